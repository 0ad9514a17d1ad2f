build-dev/obj/src/data/synth.o: src/data/synth.c src/core/internal.h \
 include/strata/io.h include/strata/strata.h include/strata/data.h \
 src/data/synth_words.h
src/core/internal.h:
include/strata/io.h:
include/strata/strata.h:
include/strata/data.h:
src/data/synth_words.h:
