build-dev/obj/cli/cmd_hardness.o: cli/cmd_hardness.c cli/commands.h \
 cli/cli.h include/strata/strata.h src/core/internal.h \
 include/strata/io.h include/strata/data.h include/strata/kmeans.h \
 include/strata/plan.h
cli/commands.h:
cli/cli.h:
include/strata/strata.h:
src/core/internal.h:
include/strata/io.h:
include/strata/data.h:
include/strata/kmeans.h:
include/strata/plan.h:
