build-dev/obj/src/report/report.o: src/report/report.c \
 include/strata/report.h include/strata/strata.h src/core/internal.h \
 include/strata/io.h
include/strata/report.h:
include/strata/strata.h:
src/core/internal.h:
include/strata/io.h:
