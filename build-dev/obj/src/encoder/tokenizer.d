build-dev/obj/src/encoder/tokenizer.o: src/encoder/tokenizer.c \
 src/core/internal.h include/strata/io.h include/strata/strata.h \
 include/strata/encoder.h
src/core/internal.h:
include/strata/io.h:
include/strata/strata.h:
include/strata/encoder.h:
