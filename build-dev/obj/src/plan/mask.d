build-dev/obj/src/plan/mask.o: src/plan/mask.c src/plan/plan_internal.h \
 include/strata/plan.h include/strata/strata.h
src/plan/plan_internal.h:
include/strata/plan.h:
include/strata/strata.h:
