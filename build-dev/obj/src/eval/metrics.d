build-dev/obj/src/eval/metrics.o: src/eval/metrics.c \
 include/strata/eval.h include/strata/strata.h include/strata/data.h
include/strata/eval.h:
include/strata/strata.h:
include/strata/data.h:
