build-dev/obj/src/encoder/kernels.o: src/encoder/kernels.c \
 src/encoder/kernels.h
src/encoder/kernels.h:
