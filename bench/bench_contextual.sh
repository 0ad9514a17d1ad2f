#!/usr/bin/env bash
# bench_contextual.sh — the contextual model's cost against the biencoder's,
# measured side by side in alternating rounds (bench/ctx_step.c):
#   train: ms per step, contextual / biencoder (stage 1 over J = N context
#          documents + the longer second-stage input, J + 8 + T tokens);
#   embed: ms per batch of 2N texts, contextual second stage / biencoder;
#          the one-off first stage over the J context documents.
# The expected token ratio of training is (2N (T + J + 8) + J T) / (2N T).
#
#   bench/bench_contextual.sh [THREADS] [ROUNDS]     (defaults 2, 5)
# Output: bench/out/contextual.jsonl (appended) and a summary on stdout
# (median over rounds of the per-round ratios), for process CPU time and
# wall time. On a shared machine read the CPU-time ratios of a one-thread
# run (THREADS=1): they count the work, not the waits for a core.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-2}
rounds=${2:-5}
mkdir -p bench/out
make -s build/libstrata.a >/dev/null
flags="-std=c11 -O2 -g -fopenmp -D_GNU_SOURCE -Iinclude -Isrc $(pkg-config --cflags libcjson libutf8proc libzstd zlib)"
libs="build/libstrata.a $(pkg-config --libs libcjson libutf8proc libzstd zlib) -lopenblas -lm -fopenmp"
if [ -f /usr/include/oneapi/dnnl/dnnl.h ]; then libs="$libs -ldnnl"; fi
if command -v mpicc >/dev/null 2>&1; then libs="$libs $(mpicc --showme:link)"; fi
gcc $flags bench/ctx_step.c -o bench/out/ctx_step $libs
out=bench/out/contextual.jsonl
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}  threads=$threads  rounds=$rounds  $(date -u +%FT%TZ)"
#            name     L  C   H  F    N  T  J
configs=("small    4 256  4 1024 16 64 16"
         "minilm   6 384 12 1536 16 64 16")
for cfg in "${configs[@]}"; do
  set -- $cfg
  name=$1; shift
  bench/out/ctx_step "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$threads" "$rounds" | tee -a "$out" \
    | python3 -c '
import json, statistics, sys
name = sys.argv[1]
rows = [json.loads(l) for l in sys.stdin]
r0 = rows[0]
N, T, J = r0["N"], r0["T"], r0["J"]
tok = (2 * N * (T + J + 8) + J * T) / (2 * N * T)
for clock, suf in (("cpu", "_cpu_ms"), ("wall", "_ms")):
    med = lambda k: statistics.median(r[k + suf] for r in rows)
    ratio = lambda a, b: statistics.median(r[a + suf] / r[b + suf] for r in rows)
    print("%-7s %-4s L=%d C=%d pairs=%d T=%d J=%d | train: biencoder %.0f ms, contextual %.0f ms,"
          " ratio %.2fx (tokens %.2fx) | embed %d texts: biencoder %.1f ms, contextual %.1f ms,"
          " ratio %.2fx (tokens %.2fx) | first stage over J, once: %.1f ms"
          % (name, clock, r0["L"], r0["C"], N, T, J, med("train_bi"), med("train_ctx"),
             ratio("train_ctx", "train_bi"), tok, 2 * N, med("embed_bi"), med("embed_ctx_stage2"),
             ratio("embed_ctx_stage2", "embed_bi"), (T + J + 8) / T, med("context_stage1")))
' "$name"
done
