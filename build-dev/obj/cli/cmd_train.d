build-dev/obj/cli/cmd_train.o: cli/cmd_train.c cli/commands.h cli/cli.h \
 include/strata/strata.h include/strata/train.h include/strata/encoder.h
cli/commands.h:
cli/cli.h:
include/strata/strata.h:
include/strata/train.h:
include/strata/encoder.h:
