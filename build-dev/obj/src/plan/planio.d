build-dev/obj/src/plan/planio.o: src/plan/planio.c src/core/internal.h \
 include/strata/io.h include/strata/strata.h src/plan/plan_internal.h \
 include/strata/plan.h
src/core/internal.h:
include/strata/io.h:
include/strata/strata.h:
src/plan/plan_internal.h:
include/strata/plan.h:
