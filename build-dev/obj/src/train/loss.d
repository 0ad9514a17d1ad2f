build-dev/obj/src/train/loss.o: src/train/loss.c include/strata/train.h \
 include/strata/encoder.h include/strata/strata.h
include/strata/train.h:
include/strata/encoder.h:
include/strata/strata.h:
