#!/usr/bin/env bash
# plan_hardness_real.sh — the hardness table (CDE Figure 6) on the shared
# multisource pairs: hashed TF-IDF embeddings (`strata embed --model hash`),
# asymmetric k-means per source at several cluster sizes (`strata cluster`),
# then `strata hardness --sweep` over random / source / cluster strategies
# and batch sizes. Outputs in bench/out/plan_real/. Usage:
#   bench/plan_hardness_real.sh [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-2}
S=${STRATA:-build/strata}
PAIRS=${PAIRS:-../shared/data/pairs/multisource_pairs.jsonl}
[ -f "$PAIRS" ] || { echo "skipped: $PAIRS not present"; exit 0; }
O=bench/out/plan_real
mkdir -p "$O"
if [ ! -f "$O/Q.npy" ]; then
  $S embed --quiet --threads "$T" --model hash --input "$PAIRS" --field query --out "$O/Q.npy" --idf-out "$O/idf.bin"
  $S embed --quiet --threads "$T" --model hash --input "$PAIRS" --field positive --out "$O/D.npy" --idf "$O/idf.bin"
fi
list=""
for cs in ${CLUSTER_SIZES:-64 256 1024 4096}; do
  d="$O/cs$cs"
  [ -f "$d/assign.npy" ] || $S cluster --quiet --threads "$T" --query-emb "$O/Q.npy" --doc-emb "$O/D.npy" \
      --pairs "$PAIRS" --per-source --cluster-size "$cs" --out "$d"
  list="$list${list:+,}$d"
done
$S hardness --threads "$T" --sweep --pairs "$PAIRS" --query-emb "$O/Q.npy" --doc-emb "$O/D.npy" \
   --assign-list "$list" --batch-sizes ${BATCH_SIZES:-32,64,128,256} --tau 0.02 \
   --csv "$O/sweep.csv" --out "$O/sweep.json" | tee "$O/sweep.txt"
