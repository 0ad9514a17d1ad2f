#!/usr/bin/env bash
# bench_train.sh — time per training step, strata vs PyTorch CPU, side by side.
#
# Same model shape, batch (N pairs = 2N sequences of T tokens), loss, clipping
# and AdamW on both sides; threads set explicitly on both (--threads /
# torch.set_num_threads). Reports ms/step, GFLOP/s (3x forward matmul FLOPs)
# and the sgemm peak measured in the same run.
#
#   bench/bench_train.sh [THREADS] [REPEATS]     (defaults 2, 1)
# Output: bench/out/train.jsonl (appended) and a summary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
repeats=${2:-1}
mkdir -p bench/out
make -s build/libstrata.a >/dev/null
flags="-std=c11 -O2 -g -fopenmp -D_GNU_SOURCE -Iinclude -Isrc $(pkg-config --cflags libcjson libutf8proc libzstd zlib)"
libs="build/libstrata.a $(pkg-config --libs libcjson libutf8proc libzstd zlib) -lopenblas -lm -fopenmp"
[ -f /usr/include/oneapi/dnnl/dnnl.h ] && libs="$libs -ldnnl"
if command -v mpicc >/dev/null 2>&1; then libs="$libs $(mpicc --showme:link)"; fi
gcc $flags bench/train_step.c -o bench/out/train_step $libs
py=${STRATA_PYTHON:-.venv/bin/python}
[ -x "$py" ] || py=/usr/bin/python3
out=bench/out/train.jsonl
#            name     L  C   H  F    N  T  steps
configs=("small    4 256  4 1024 16 64 5"
         "minilm   6 384 12 1536 16 64 3")
for rep in $(seq "$repeats"); do
  for cfg in "${configs[@]}"; do
    set -- $cfg
    name=$1; shift
    s=$(bench/out/train_step "$1" "$2" "$3" "$4" "$5" "$6" "$threads" "$7")
    t=$("$py" bench/train_torch.py "$1" "$2" "$3" "$4" "$5" "$6" "$threads" "$7" 2>/dev/null | tail -1)
    echo "$s" >> "$out"; echo "$t" >> "$out"
    python3 - "$name" "$s" "$t" <<'PY'
import json, sys
name, s, t = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print("%-7s L=%d C=%d F=%d pairs=%d T=%d threads=%d | strata %.1f ms/step %.1f GFLOP/s (%.0f%% of sgemm peak %.1f) | %s %.1f ms/step %.1f GFLOP/s | speedup %.2fx"
      % (name, s["L"], s["C"], s["F"], s["pairs"], s["T"], s["threads"], s["step_ms"], s["gflops"],
         100 * s["gflops"] / s["sgemm_peak_gflops"], s["sgemm_peak_gflops"], t["impl"], t["step_ms"],
         t["gflops"], t["step_ms"] / s["step_ms"]))
PY
  done
done
