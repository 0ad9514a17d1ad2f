build-dev/obj/src/data/pairs.o: src/data/pairs.c src/core/internal.h \
 include/strata/io.h include/strata/strata.h src/data/data_internal.h \
 include/strata/data.h
src/core/internal.h:
include/strata/io.h:
include/strata/strata.h:
src/data/data_internal.h:
include/strata/data.h:
