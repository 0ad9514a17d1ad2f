build-dev/obj/cli/cmd_plan.o: cli/cmd_plan.c cli/commands.h cli/cli.h \
 include/strata/strata.h src/core/internal.h include/strata/io.h \
 include/strata/data.h include/strata/plan.h
cli/commands.h:
cli/cli.h:
include/strata/strata.h:
src/core/internal.h:
include/strata/io.h:
include/strata/data.h:
include/strata/plan.h:
