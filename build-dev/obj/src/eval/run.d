build-dev/obj/src/eval/run.o: src/eval/run.c include/strata/eval.h \
 include/strata/strata.h include/strata/data.h include/strata/io.h \
 src/core/internal.h
include/strata/eval.h:
include/strata/strata.h:
include/strata/data.h:
include/strata/io.h:
src/core/internal.h:
