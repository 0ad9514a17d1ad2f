#!/usr/bin/env bash
# bench_plan.sh — planning N synthetic pairs (default 10 million) with the
# cluster strategy, greedy-TSP order and false-negative masks with strata's
# library (bench/plan_bench.c): wall time and peak RSS (/usr/bin/time -v).
# Then strata and a numpy + PyTorch peer (bench/plan_peer.py, Debian
# /usr/bin/python3) side by side on PEER_N pairs (default 1 million: the
# peer needs ~3x the memory and minutes at 10M) with the same thread count.
#
#   bench/bench_plan.sh [N] [D] [B] [K] [S] [THREADS]
#   defaults:            10000000 32 128 20000 100 2   (PEER_N=1000000, PEER_K=2000)
#
# D is small (32) on purpose: the surrogate embeddings alone are N*D*4*2
# bytes (2.6 GB at 10M x 32); real surrogate models have D = 384..768 and
# would be planned per shard or from float16 files.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000000} D=${2:-32} B=${3:-128} K=${4:-20000} S=${5:-100} T=${6:-2}
BUILD=${BUILD:-build}
OUT=bench/out/plan
mkdir -p "$OUT"
make -s "$BUILD/libstrata.a" >/dev/null
CFLAGS="-std=c11 -O2 -g -fopenmp -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -Iinclude -Isrc"
LIBS="$(pkg-config --libs libcjson libutf8proc libzstd zlib) -lopenblas -lm"
gcc $CFLAGS bench/plan_bench.c -o "$OUT/plan_bench" "$BUILD/libstrata.a" -fopenmp $LIBS
PN=${PEER_N:-1000000} PK=${PEER_K:-2000}
echo "== strata, N=$N (threads $T)"
/usr/bin/time -v "$OUT/plan_bench" "$N" "$D" "$B" "$K" "$S" "$T" "$OUT/strata_plan" 2> "$OUT/strata.time"
grep -E "Maximum resident|Elapsed" "$OUT/strata.time"
rm -rf "$OUT/strata_plan"
echo "== side by side, N=$PN K=$PK (threads $T on both)"
/usr/bin/time -v "$OUT/plan_bench" "$PN" "$D" "$B" "$PK" "$S" "$T" "$OUT/strata_plan" 2> "$OUT/strata_small.time"
grep -E "Maximum resident|Elapsed" "$OUT/strata_small.time"
if /usr/bin/python3 -c "import numpy" 2>/dev/null; then
  OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T /usr/bin/time -v /usr/bin/python3 bench/plan_peer.py \
      "$PN" "$D" "$B" "$PK" "$S" "$OUT/peer_plan" 2> "$OUT/peer.time"
  grep -E "Maximum resident|Elapsed" "$OUT/peer.time"
else
  echo "skipped: /usr/bin/python3 has no numpy"
fi
rm -rf "$OUT/strata_plan" "$OUT/peer_plan"
