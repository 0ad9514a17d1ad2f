build-dev/obj/src/plan/hardness.o: src/plan/hardness.c \
 src/plan/plan_internal.h include/strata/plan.h include/strata/strata.h
src/plan/plan_internal.h:
include/strata/plan.h:
include/strata/strata.h:
