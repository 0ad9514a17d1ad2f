build-dev/obj/src/core/core.o: src/core/core.c include/strata/strata.h
include/strata/strata.h:
