#!/usr/bin/env bash
# bench_topk.sh — exact top-k: Strata (strata_topk_ip, fused blocked sgemm +
# per-query heap) vs FAISS IndexFlatIP (python3-faiss), side by side on the
# same random unit vectors, threads set explicitly on both sides.
#
#   bench/bench_topk.sh [NC NQ D K THREADS REPS]    defaults 500000 5000 384 100 2 3
#
# Data is written once to $TOPK_DATA (default /tmp/strata_topk_<NC>x<D>_<NQ>);
# the driver is built into bench/out/ with the Makefile's flags. Runs REPS
# alternating rounds (strata, then FAISS, so both see the same machine load)
# and prints each round's ratio, the best time of each side, Strata's time
# for the bare sgemm of the same product (same blocking, no top-k), and how
# many top-k ids agree with FAISS. CPU seconds (all threads of each process)
# are printed too: under load from other jobs they vary less than wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
NC=${1:-500000} NQ=${2:-5000} D=${3:-384} K=${4:-100} THREADS=${5:-2} REPS=${6:-3}
DATA=${TOPK_DATA:-/tmp/strata_topk_${NC}x${D}_${NQ}}
PY=${PYTHON:-/usr/bin/python3}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}

make -s build/libstrata.a >/dev/null
mkdir -p bench/out
MPI_C= MPI_L=
if command -v mpicc >/dev/null 2>&1; then MPI_C=$(mpicc --showme:compile); MPI_L=$(mpicc --showme:link); fi
PKGS="libcjson libutf8proc libzstd zlib"
gcc -std=c11 -O2 -g -fopenmp -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
    -Iinclude -Isrc $(pkg-config --cflags $PKGS) $MPI_C \
    -o bench/out/topk_driver bench/topk_driver.c build/libstrata.a \
    -fopenmp $(pkg-config --libs $PKGS) -lopenblas -lm $MPI_L

if [ ! -f "$DATA/C.npy" ] || [ ! -f "$DATA/Q.npy" ]; then
  $PY bench/topk_gen.py "$DATA" "$NC" "$NQ" "$D" 1
fi
echo "== exact top-$K: $NQ queries x $NC x $D, $THREADS threads, $REPS alternating rounds"
: > bench/out/topk_strata.txt
: > bench/out/topk_faiss.txt
for r in $(seq 1 "$REPS"); do
  echo "-- round $r: strata"
  bench/out/topk_driver "$DATA" "$K" "$THREADS" 1 | tee -a bench/out/topk_strata.txt
  echo "-- round $r: faiss IndexFlatIP"
  $PY bench/topk_faiss.py "$DATA" "$K" "$THREADS" 1 | tee -a bench/out/topk_faiss.txt
done
S=$(awk '/^strata_topk_s/ {print $2}' bench/out/topk_strata.txt | sort -g | head -1)
G=$(awk '/^sgemm_only_s/ {print $2}' bench/out/topk_strata.txt | sort -g | head -1)
F=$(awk '/^faiss_search_s/ {print $2}' bench/out/topk_faiss.txt | sort -g | head -1)
SC=$(awk '/^strata_topk_cpu_s/ {print $2}' bench/out/topk_strata.txt | sort -g | head -1)
FC=$(awk '/^faiss_search_cpu_s/ {print $2}' bench/out/topk_faiss.txt | sort -g | head -1)
RS=$(awk '/^strata_topk_s/ {print $2}' bench/out/topk_strata.txt | tr '\n' ' ')
RF=$(awk '/^faiss_search_s/ {print $2}' bench/out/topk_faiss.txt | tr '\n' ' ')
$PY - "$DATA" "$S" "$G" "$F" "$RS" "$RF" "$SC" "$FC" <<'PYEOF'
import sys
import numpy as np
d, s, g, f = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
sc, fc = float(sys.argv[7]), float(sys.argv[8])
rs = [float(x) for x in sys.argv[5].split()]; rf = [float(x) for x in sys.argv[6].split()]
a = np.load(d + "/strata_I.npy"); b = np.load(d + "/faiss_I.npy")
same_set = np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b)])
same_pos = np.mean(a == b)
print("per round faiss/strata: " + " ".join("%.2fx" % (y / x) for x, y in zip(rs, rf)))
print("best: strata %.3f s  faiss %.3f s  speedup vs faiss %.2fx" % (s, f, f / s))
print("cpu time (all threads): strata %.3f s  faiss %.3f s  ratio %.2fx" % (sc, fc, fc / sc))
print("sgemm alone %.3f s = %.0f%% of the fused top-k time" % (g, 100 * g / s))
print("top-k agreement with faiss: %.5f of ids in the same set, %.5f at the same rank" % (same_set, same_pos))
PYEOF
