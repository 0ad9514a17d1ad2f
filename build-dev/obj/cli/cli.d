build-dev/obj/cli/cli.o: cli/cli.c cli/cli.h include/strata/strata.h
cli/cli.h:
include/strata/strata.h:
