build-dev/obj/src/data/beir.o: src/data/beir.c include/strata/data.h \
 include/strata/strata.h include/strata/io.h src/core/internal.h
include/strata/data.h:
include/strata/strata.h:
include/strata/io.h:
src/core/internal.h:
