build-dev/obj/src/core/files.o: src/core/files.c include/strata/io.h \
 include/strata/strata.h
include/strata/io.h:
include/strata/strata.h:
