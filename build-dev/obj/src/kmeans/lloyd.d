build-dev/obj/src/kmeans/lloyd.o: src/kmeans/lloyd.c \
 src/kmeans/kmeans_internal.h include/strata/kmeans.h \
 include/strata/strata.h
src/kmeans/kmeans_internal.h:
include/strata/kmeans.h:
include/strata/strata.h:
