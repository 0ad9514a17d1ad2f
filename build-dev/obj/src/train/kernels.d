build-dev/obj/src/train/kernels.o: src/train/kernels.c \
 src/train/train_kernels.h include/strata/encoder.h \
 include/strata/strata.h
src/train/train_kernels.h:
include/strata/encoder.h:
include/strata/strata.h:
