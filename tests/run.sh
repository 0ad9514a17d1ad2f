#!/usr/bin/env bash
# Runs every test program in $STRATA_BUILD/tests (default build/tests), prints
# each one's output, and closes with one line: "tests: N passed, N failed, N skipped".
# Exits non-zero when any test failed or any program crashed.
set -u
cd "$(dirname "$0")/.."
build=${STRATA_BUILD:-build}
passed=0 failed=0 skipped=0 crashed=()
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  echo "=== $name"
  out=$("$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' | awk '{s+=$1} END {print s+0}')
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s).*/\1/p' | awk '{s+=$1} END {print s+0}')
  s=$(printf '%s\n' "$out" | sed -n 's/^\[  SKIPPED \] \([0-9]*\) test(s).*/\1/p' | awk '{s+=$1} END {print s+0}')
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    crashed+=("$name (exit $rc)"); failed=$((failed + 1))
  fi
done
if [ ${#crashed[@]} -gt 0 ]; then
  echo "programs that failed without a cmocka summary: ${crashed[*]}"
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
