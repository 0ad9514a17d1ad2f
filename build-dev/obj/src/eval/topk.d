build-dev/obj/src/eval/topk.o: src/eval/topk.c include/strata/eval.h \
 include/strata/strata.h include/strata/data.h src/eval/topk_internal.h
include/strata/eval.h:
include/strata/strata.h:
include/strata/data.h:
src/eval/topk_internal.h:
