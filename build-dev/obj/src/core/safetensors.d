build-dev/obj/src/core/safetensors.o: src/core/safetensors.c \
 src/core/internal.h include/strata/io.h include/strata/strata.h
src/core/internal.h:
include/strata/io.h:
include/strata/strata.h:
