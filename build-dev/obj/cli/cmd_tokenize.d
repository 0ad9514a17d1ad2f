build-dev/obj/cli/cmd_tokenize.o: cli/cmd_tokenize.c cli/commands.h \
 cli/cli.h include/strata/strata.h include/strata/encoder.h \
 include/strata/io.h
cli/commands.h:
cli/cli.h:
include/strata/strata.h:
include/strata/encoder.h:
include/strata/io.h:
