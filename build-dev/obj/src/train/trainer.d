build-dev/obj/src/train/trainer.o: src/train/trainer.c \
 include/strata/train.h include/strata/encoder.h include/strata/strata.h \
 include/strata/data.h include/strata/eval.h include/strata/io.h \
 src/core/internal.h
include/strata/train.h:
include/strata/encoder.h:
include/strata/strata.h:
include/strata/data.h:
include/strata/eval.h:
include/strata/io.h:
src/core/internal.h:
