build-dev/obj/cli/cmd_embed.o: cli/cmd_embed.c cli/commands.h cli/cli.h \
 include/strata/strata.h include/strata/data.h include/strata/embed.h \
 include/strata/encoder.h include/strata/io.h
cli/commands.h:
cli/cli.h:
include/strata/strata.h:
include/strata/data.h:
include/strata/embed.h:
include/strata/encoder.h:
include/strata/io.h:
