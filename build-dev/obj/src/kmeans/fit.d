build-dev/obj/src/kmeans/fit.o: src/kmeans/fit.c src/core/internal.h \
 include/strata/io.h include/strata/strata.h src/kmeans/kmeans_internal.h \
 include/strata/kmeans.h
src/core/internal.h:
include/strata/io.h:
include/strata/strata.h:
src/kmeans/kmeans_internal.h:
include/strata/kmeans.h:
