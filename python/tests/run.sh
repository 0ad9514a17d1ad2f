#!/usr/bin/env bash
# Builds the strata Python package and runs its pytest suite (make pytest).
#
#   python/tests/run.sh               pip install ./python into .venv (the C
#                                     library compiled into the extension),
#                                     then pytest python/tests
#   python/tests/run.sh --asan DIR    build the extension with ASan+UBSan into
#                                     DIR/python (not installed) and run the
#                                     suite against it with libasan preloaded
#
# STRATA_PYTHON overrides .venv/bin/python; STRATA_CLI names the CLI the
# binding is compared with (default build/strata); PYTEST_ARGS is passed on.
# Without .venv (scripts/setup.sh --test makes it) the suite is skipped with a
# message, except under CI, where that is a failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${STRATA_PYTHON:-$PWD/.venv/bin/python}
if [ ! -x "$PY" ] || ! "$PY" -c 'import pytest, numpy' 2>/dev/null; then
  echo "pytest: $PY with pytest and numpy not found: run scripts/setup.sh --test"
  [ "${CI:-}" = true ] && exit 1
  echo "pytest: python tests skipped"
  exit 0
fi
args=(-q -p no:cacheprovider -ra ${PYTEST_ARGS:-})
if [ "${1:-}" = --asan ]; then
  out=$(realpath -m "${2:?--asan needs a build directory}")/python
  mkdir -p "$out/strata"
  echo "pytest: building the extension with ASan+UBSan in $out"
  (cd python && STRATA_SANITIZE=1 "$PY" setup.py -q build_ext -b "$out" -t "$out/tmp" >"$out/build.log" 2>&1) \
    || { tail -40 "$out/build.log"; exit 1; }
  cp python/strata/*.py "$out/strata/"
  asan=$(gcc -print-file-name=libasan.so)
  # CPython frees little at exit by design: leak reports would be its own.
  # alloc_dealloc_mismatch=0: pytrec_eval (C++, the reference of test_eval)
  # frees memory from operator new with free(); Strata is C and has no
  # new/delete to mismatch. UBSan stops at the first error, failing the run.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:alloc_dealloc_mismatch=0:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  # --capture=sys: a sanitizer report (written to fd 2) reaches the log
  exec env LD_PRELOAD="$asan" PYTHONPATH="$out" STRATA_CLI="${STRATA_CLI:-$(dirname "$out")/strata}" \
    "$PY" -m pytest "${args[@]}" --capture=sys python/tests
fi
echo "pytest: pip install ./python into $(dirname "$(dirname "$PY")")"
# --no-build-isolation: setuptools, wheel and numpy come from Debian (setup.sh);
# --no-deps: never replace Debian's numpy, which torch and faiss are built for.
"$PY" -m pip install -q --no-build-isolation --no-deps ./python
exec "$PY" -m pytest "${args[@]}" python/tests
