build-dev/obj/cli/cmd_cluster.o: cli/cmd_cluster.c cli/commands.h \
 cli/cli.h include/strata/strata.h include/strata/data.h \
 include/strata/io.h include/strata/kmeans.h \
 /usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h \
 /usr/lib/x86_64-linux-gnu/openmpi/include/mpi_portable_platform.h
cli/commands.h:
cli/cli.h:
include/strata/strata.h:
include/strata/data.h:
include/strata/io.h:
include/strata/kmeans.h:
/usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h:
/usr/lib/x86_64-linux-gnu/openmpi/include/mpi_portable_platform.h:
