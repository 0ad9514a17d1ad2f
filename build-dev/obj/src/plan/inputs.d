build-dev/obj/src/plan/inputs.o: src/plan/inputs.c include/strata/io.h \
 include/strata/strata.h src/plan/plan_internal.h include/strata/plan.h
include/strata/io.h:
include/strata/strata.h:
src/plan/plan_internal.h:
include/strata/plan.h:
