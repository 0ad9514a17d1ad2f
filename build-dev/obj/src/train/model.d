build-dev/obj/src/train/model.o: src/train/model.c include/strata/train.h \
 include/strata/encoder.h include/strata/strata.h include/strata/io.h \
 src/train/train_kernels.h
include/strata/train.h:
include/strata/encoder.h:
include/strata/strata.h:
include/strata/io.h:
src/train/train_kernels.h:
