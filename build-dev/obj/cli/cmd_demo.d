build-dev/obj/cli/cmd_demo.o: cli/cmd_demo.c cli/commands.h cli/cli.h \
 include/strata/strata.h src/core/internal.h include/strata/io.h \
 include/strata/data.h include/strata/report.h
cli/commands.h:
cli/cli.h:
include/strata/strata.h:
src/core/internal.h:
include/strata/io.h:
include/strata/data.h:
include/strata/report.h:
