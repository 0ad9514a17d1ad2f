build-dev/obj/src/core/json.o: src/core/json.c src/core/internal.h \
 include/strata/io.h include/strata/strata.h
src/core/internal.h:
include/strata/io.h:
include/strata/strata.h:
