build-dev/obj/src/plan/plan.o: src/plan/plan.c src/plan/plan_internal.h \
 include/strata/plan.h include/strata/strata.h
src/plan/plan_internal.h:
include/strata/plan.h:
include/strata/strata.h:
