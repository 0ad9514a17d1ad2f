build-dev/obj/src/embed/hash.o: src/embed/hash.c include/strata/embed.h \
 include/strata/strata.h include/strata/encoder.h include/strata/io.h
include/strata/embed.h:
include/strata/strata.h:
include/strata/encoder.h:
include/strata/io.h:
