build-dev/obj/src/train/optim.o: src/train/optim.c include/strata/train.h \
 include/strata/encoder.h include/strata/strata.h
include/strata/train.h:
include/strata/encoder.h:
include/strata/strata.h:
