build-dev/obj/cli/cmd_eval.o: cli/cmd_eval.c cli/commands.h cli/cli.h \
 include/strata/strata.h include/strata/data.h include/strata/embed.h \
 include/strata/encoder.h include/strata/eval.h include/strata/io.h
cli/commands.h:
cli/cli.h:
include/strata/strata.h:
include/strata/data.h:
include/strata/embed.h:
include/strata/encoder.h:
include/strata/eval.h:
include/strata/io.h:
