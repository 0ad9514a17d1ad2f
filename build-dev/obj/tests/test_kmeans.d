build-dev/obj/tests/test_kmeans.o: tests/test_kmeans.c \
 include/strata/io.h include/strata/strata.h include/strata/kmeans.h \
 tests/testutil.h
include/strata/io.h:
include/strata/strata.h:
include/strata/kmeans.h:
tests/testutil.h:
