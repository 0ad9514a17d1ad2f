build-dev/obj/src/core/npy.o: src/core/npy.c include/strata/io.h \
 include/strata/strata.h
include/strata/io.h:
include/strata/strata.h:
