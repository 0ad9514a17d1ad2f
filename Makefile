# Strata — one build entry point.
#
#   make            library (static + shared) and the `strata` CLI in build/
#   make test       build and run the test suite (tests/run.sh), then make pytest
#   make pytest     pip install ./python into .venv and run python/tests
#   make asan       build in build-asan/ with ASan+UBSan and run the tests
#                   (the Python extension too, with libasan preloaded)
#   make fuzz       build libFuzzer targets and run each for FUZZ_SECONDS
#   make bench      build benchmark helpers (see bench/README.md)
#   make demo       run the main job on the embedded default corpus
#   make install    install bin/strata, lib/libstrata.{a,so}, include/strata/*.h
#                   and lib/pkgconfig/strata.pc under $(DESTDIR)$(PREFIX)
#   make uninstall  remove what make install put there
#
# Variables: BUILD=dir  WERROR=1 (-Werror)  SAN=1 (sanitizers)  MPI=0 (no MPI)
#            DNNL=0 (no oneDNN: fp32 only)
#            OPT=-O2    FUZZ_SECONDS=20   V=1 (show commands)
#            PREFIX=/usr/local  DESTDIR= (staging root for install)

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell sed -n 's/^\#define STRATA_VERSION_STRING "\(.*\)"/\1/p' include/strata/strata.h)
OPT     ?= -O2
WERROR  ?= 0
SAN     ?= 0
FUZZ_SECONDS ?= 20
CC      ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif

PKGS    := libcjson libutf8proc libzstd zlib
DEP_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEP_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lopenblas -lm

# oneDNN (bf16 / int8 matrix products, --precision): on when its header is
# installed (Debian: libdnnl-dev; it ships no pkg-config file); DNNL=0 turns
# it off. Without it the build is fp32 only.
DNNL ?= $(if $(wildcard /usr/include/oneapi/dnnl/dnnl.h),1,0)
ifeq ($(DNNL),1)
DNNL_CFLAGS := -DSTRATA_HAVE_DNNL=1
DNNL_LIBS   := -ldnnl
endif

# Open MPI: on when mpicc is present (MPI=0 turns it off).
MPI ?= $(if $(shell command -v mpicc 2>/dev/null),1,0)
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell mpicc --showme:compile) -DSTRATA_HAVE_MPI=1
MPI_LIBS   := $(shell mpicc --showme:link)
endif

WARN    := -Wall -Wextra -Wshadow -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif
SANFLAGS :=
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined,float-cast-overflow
endif

CFLAGS_ALL := -std=c11 $(OPT) -g -fPIC -fopenmp -D_GNU_SOURCE $(WARN) $(SANFLAGS) \
              -Iinclude -Isrc $(DEP_CFLAGS) $(DNNL_CFLAGS) $(MPI_CFLAGS) $(CFLAGS)
LDLIBS_ALL := -fopenmp $(SANFLAGS) $(DEP_LIBS) $(DNNL_LIBS) $(MPI_LIBS) $(LDLIBS)

LIB_SRC  := $(sort $(wildcard src/*/*.c))
CLI_SRC  := $(sort $(wildcard cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TESTLIB_SRC := $(sort $(filter-out tests/test_%.c,$(wildcard tests/*.c)))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

LIB_A  := $(BUILD)/libstrata.a
LIB_SO := $(BUILD)/libstrata.so
CLI    := $(BUILD)/strata

.PHONY: all config test asan fuzz bench demo clean setup tests pytest install uninstall install-check
.SECONDARY:
all: config $(LIB_A) $(LIB_SO) $(CLI)

config:
	@echo "strata build configuration"
	@echo "  build dir : $(BUILD)"
	@echo "  compiler  : $(CC) ($(shell $(CC) -dumpfullversion 2>/dev/null))"
	@echo "  flags     : -std=c11 $(OPT) -fopenmp $(if $(filter 1,$(WERROR)),-Werror,) $(SANFLAGS)"
	@echo "  BLAS      : OpenBLAS ($(shell pkg-config --modversion openblas 2>/dev/null || echo system))"
	@echo "  JSON      : cJSON $(shell pkg-config --modversion libcjson 2>/dev/null)"
	@echo "  Unicode   : utf8proc $(shell pkg-config --modversion libutf8proc 2>/dev/null)"
	@echo "  compress  : zlib $(shell pkg-config --modversion zlib 2>/dev/null), zstd $(shell pkg-config --modversion libzstd 2>/dev/null)"
	@echo "  oneDNN    : $(if $(filter 1,$(DNNL)),$(shell dpkg-query -W -f='$${Version}' libdnnl-dev 2>/dev/null || echo yes) (--precision bf16/int8),off: fp32 only (install libdnnl-dev for bf16/int8))"
	@echo "  MPI       : $(if $(filter 1,$(MPI)),Open MPI $(shell mpirun --version 2>/dev/null | head -1 | awk '{print $$NF}'),off)"
	@echo "  tests     : cmocka $(shell pkg-config --modversion cmocka 2>/dev/null)"

Q := $(if $(filter 1,$(V)),,@)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<",true)
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(LIB_OBJ)
	$(Q)$(CC) -shared -o $@ $^ $(LDLIBS_ALL)

$(CLI): $(CLI_OBJ) $(LIB_A)
	@$(if $(Q),echo "  LINK    $@",true)
	$(Q)$(CC) -o $@ $(CLI_OBJ) $(LIB_A) $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TESTLIB_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -o $@ $< $(TESTLIB_OBJ) $(LIB_A) $(LDLIBS_ALL) -lcmocka

tests: all $(TEST_BIN)

test: tests
	STRATA_BUILD=$(BUILD) tests/run.sh
	@$(MAKE) --no-print-directory install-check
	@$(MAKE) --no-print-directory pytest

# make install: the CLI, both libraries, the public headers and a pkg-config
# file (its private requirements are the libraries Strata links).
INSTALL_DIRS := bin lib lib/pkgconfig include/strata
install: all
	$(Q)for d in $(INSTALL_DIRS); do install -d $(DESTDIR)$(PREFIX)/$$d; done
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/strata
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/libstrata.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/libstrata.so
	install -m 644 include/strata/*.h $(DESTDIR)$(PREFIX)/include/strata/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@REQUIRES@|$(PKGS)|' \
	    -e 's|@LIBS_PRIVATE@|-lopenblas -lm -fopenmp $(DNNL_LIBS) $(MPI_LIBS)|' strata.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/strata.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/strata $(DESTDIR)$(PREFIX)/lib/libstrata.a \
	      $(DESTDIR)$(PREFIX)/lib/libstrata.so $(DESTDIR)$(PREFIX)/lib/pkgconfig/strata.pc
	rm -rf $(DESTDIR)$(PREFIX)/include/strata

# Installs into a staging root, builds examples/embed_hash.c against it with
# pkg-config alone (shared and static), and runs both and the installed CLI.
CHECK_ROOT := $(abspath $(BUILD))/install-check
CHECK_PC := PKG_CONFIG_SYSROOT_DIR=$(CHECK_ROOT) PKG_CONFIG_PATH=$(CHECK_ROOT)/usr/lib/pkgconfig
install-check: all
	@rm -rf $(CHECK_ROOT)
	@$(MAKE) --no-print-directory -s install DESTDIR=$(CHECK_ROOT) PREFIX=/usr > /dev/null
	$(Q)$(CC) $(SANFLAGS) examples/embed_hash.c $$($(CHECK_PC) pkg-config --cflags --libs strata) \
	    -o $(CHECK_ROOT)/embed_hash
	$(Q)$(CC) $(SANFLAGS) examples/embed_hash.c $$($(CHECK_PC) pkg-config --cflags strata) \
	    $(CHECK_ROOT)/usr/lib/libstrata.a $$($(CHECK_PC) pkg-config --libs --static strata | \
	    sed 's/-lstrata//') -o $(CHECK_ROOT)/embed_hash_static
	$(Q)LD_LIBRARY_PATH=$(CHECK_ROOT)/usr/lib $(CHECK_ROOT)/embed_hash > $(CHECK_ROOT)/out.txt
	$(Q)$(CHECK_ROOT)/embed_hash_static | cmp -s - $(CHECK_ROOT)/out.txt
	$(Q)grep -q "^strata $(VERSION)$$" $(CHECK_ROOT)/out.txt
	$(Q)$(CHECK_ROOT)/usr/bin/strata --version | grep -q "^strata $(VERSION)$$"
	$(Q)cd $(CHECK_ROOT) && usr/bin/strata demo --out demo --quiet --seeds 1 --strategies random \
	    --topics 4 --pairs-per-topic 8 --test-queries 12 --corpus 60 --layers 1 --hidden 16 \
	    --heads 2 --ffn 32 --steps 4 --batch-size 8 --max-len 16 --vocab-size 500 \
	    > $(CHECK_ROOT)/demo.log 2>&1 || { tail -20 $(CHECK_ROOT)/demo.log; exit 1; }
	$(Q)cd / && sh $(CHECK_ROOT)/demo/commands.sh > $(CHECK_ROOT)/replay.log 2>&1 \
	    || { tail -20 $(CHECK_ROOT)/replay.log; exit 1; }
	@echo "install-check: make install, pkg-config strata (shared and static), examples/embed_hash.c, the installed demo's commands.sh replayed from /: ok"

# The Python package (python/): built by pip into .venv, then its pytest
# suite; with SAN=1 the extension is built with the sanitizers in
# $(BUILD)/python and tested there (python/tests/run.sh).
pytest: all
	STRATA_CLI=$(BUILD)/strata python/tests/run.sh $(if $(filter 1,$(SAN)),--asan $(BUILD))

asan:
	$(MAKE) BUILD=build-asan SAN=1 OPT=-O1 test

# libFuzzer targets (clang): fuzz/fuzz_<name>.c, each linked with the library
# (and the CLI's command files, for targets that drive a command) built once
# with -fsanitize=fuzzer-no-link,address,undefined. UBSan reports are fatal
# (-fno-sanitize-recover), so they fail the run like ASan reports do.
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=c11 -g -O1 -fopenmp -D_GNU_SOURCE -Iinclude -Isrc $(DEP_CFLAGS) $(DNNL_CFLAGS) $(MPI_CFLAGS)
FUZZ_OBJ := $(LIB_SRC:%.c=build-fuzz/obj/%.o)
FUZZ_CLI_OBJ := $(filter-out build-fuzz/obj/cli/strata.o,$(CLI_SRC:%.c=build-fuzz/obj/%.o))
build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<",true)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -MMD -MP -c $< -o $@
build-fuzz/libstrata-fuzz.a: $(FUZZ_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^
build-fuzz/libstrata-cli-fuzz.a: $(FUZZ_CLI_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^
build-fuzz/%: fuzz/%.c $(wildcard fuzz/*.h) build-fuzz/libstrata-cli-fuzz.a build-fuzz/libstrata-fuzz.a
	@$(if $(Q),echo "  FUZZLD  $@",true)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< \
	  build-fuzz/libstrata-cli-fuzz.a build-fuzz/libstrata-fuzz.a $(DEP_LIBS) $(DNNL_LIBS) $(MPI_LIBS)
# Each target runs FUZZ_SECONDS on its seeds (fuzz/seeds/<name>/) plus the
# corpus it grew before (build-fuzz/corpus-<name>/); the last status line
# (executions, coverage, corpus) is printed. -close_fd_mask=3 silences the
# target's own stdout/stderr (a command's error lines); libFuzzer and the
# sanitizers still report on a copy of stderr. An input running past
# -timeout seconds is a failure.
FUZZ_FLAGS := -max_len=65536 -timeout=25 -close_fd_mask=3 -print_final_stats=0
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	  name=$$(basename $$f); mkdir -p build-fuzz/corpus-$$name; \
	  seeds=fuzz/seeds/$$name; [ -d $$seeds ] || seeds=; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) $(FUZZ_FLAGS) -artifact_prefix=build-fuzz/$$name- \
	      build-fuzz/corpus-$$name $$seeds > build-fuzz/$$name.log 2>&1 \
	    || { tail -40 build-fuzz/$$name.log; exit 1; }; \
	  grep -E '^#[0-9]+.*DONE' build-fuzz/$$name.log | tail -1; \
	done

bench: all
	@echo "benchmarks: see bench/README.md"

demo: all
	$(CLI) demo --out demo-out

clean:
	rm -rf build build-asan build-fuzz python/build python/strata.egg-info

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(wildcard build-fuzz/obj/*/*/*.d build-fuzz/obj/cli/*.d) $(TEST_BIN:$(BUILD)/tests/%=$(BUILD)/obj/tests/%.d)
