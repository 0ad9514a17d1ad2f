build-dev/obj/src/encoder/bert.o: src/encoder/bert.c src/core/internal.h \
 include/strata/io.h include/strata/strata.h src/encoder/kernels.h \
 include/strata/encoder.h
src/core/internal.h:
include/strata/io.h:
include/strata/strata.h:
src/encoder/kernels.h:
include/strata/encoder.h:
