#!/usr/bin/env bash
# contextual.sh — CDE's comparison at Strata's scale: the contextual model
# against the biencoder, trained on the same pairs, plan, steps and seeds;
# NDCG@10 on the test splits of BEIR SciFact and nq_qed; for the contextual
# model, the context at test time from the test corpus (in-domain), from
# random training documents (CDE Table 2's "Random") and none (null).
#
#   experiments/contextual.sh [OUT]        (default OUT = experiments/out/contextual)
#
# Pipeline (each stage skipped when its output exists, so a killed run
# resumes): zero-shot pairs (the sources overlapping the test corpora are
# dropped) -> hash embeddings of queries and positives -> asymmetric k-means
# per source (clusters of ~256) -> one cluster plan with CDE's false-negative
# mask -> per seed: `strata train` (biencoder) and `strata train --contextual`
# with identical options -> `strata eval` on both test sets -> per-seed table
# and paired bootstrap (experiments/ctx_compare.py).
#
# Model: a small BERT from random init with bert-base-uncased's vocabulary
# (both models start from the same init seed; the contextual model copies it
# into both stages). Environment (defaults in brackets):
#   STEPS [400] SEEDS [1,2,3] BATCH [64] MAX_LEN [32] EVAL_MAX_LEN [128]
#   J [32] SEQ_DROPOUT [0.005] LAYERS [2] HIDDEN [128] HEADS [4] FFN [512]
#   LR [5e-4] TAU [0.05] WARMUP [STEPS/10] CHUNK [0] THREADS [2]
#   BOOT [10000] bootstrap resamples
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-experiments/out/contextual}
data=${STRATA_SHARED_DATA:-../shared/data}
strata=${STRATA:-build/strata}
steps=${STEPS:-400}
seeds=${SEEDS:-1,2,3}
batch=${BATCH:-64}
max_len=${MAX_LEN:-32}
eval_len=${EVAL_MAX_LEN:-128}
J=${J:-32}
p=${SEQ_DROPOUT:-0.005}
lr=${LR:-5e-4}
tau=${TAU:-0.05}
warmup=${WARMUP:-$((steps / 10))}
chunk=${CHUNK:-0}
threads=${THREADS:-2}
py=${STRATA_PYTHON:-.venv/bin/python}
[ -x "$py" ] || py=/usr/bin/python3
[ -d "$data/pairs" ] || { echo "contextual.sh: $data not found" >&2; exit 1; }
[ -x "$strata" ] || make -s
mkdir -p "$out"
t() { local t0=$SECONDS; "$@"; echo "contextual.sh: $1 $2 took $((SECONDS - t0)) s" >&2; }

# ---- data, embeddings, clusters, plan (shared by every run) ----
pairs="$out/pairs.zero-shot.jsonl"
if [ ! -s "$pairs" ]; then
  grep -v -E '"source": ?"(scifact_[^"]*|nq_qed_train)"' "$data/pairs/multisource_pairs.jsonl" \
    > "$pairs.tmp"
  mv "$pairs.tmp" "$pairs"
fi
vocab="$data/tokenizers/bert-base-uncased/vocab.txt"
cat > "$out/config.json" <<EOF
{"vocab_size": 30522, "hidden_size": ${HIDDEN:-128}, "num_hidden_layers": ${LAYERS:-2},
 "num_attention_heads": ${HEADS:-4}, "intermediate_size": ${FFN:-512},
 "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
 "model_type": "bert", "hidden_act": "gelu"}
EOF
common=(--threads "$threads" --quiet)
[ -s "$out/emb/q.npy" ] || { mkdir -p "$out/emb"
  t "$strata" embed --model hash --input "$pairs" --field query --out "$out/emb/q.npy" "${common[@]}"
  t "$strata" embed --model hash --input "$pairs" --field positive --out "$out/emb/d.npy" "${common[@]}"; }
[ -s "$out/clusters/stats.json" ] || t "$strata" cluster --query-emb "$out/emb/q.npy" \
  --doc-emb "$out/emb/d.npy" --pairs "$pairs" --per-source --cluster-size 256 --out "$out/clusters" \
  "${common[@]}"
[ -s "$out/plan/plan.json" ] || t "$strata" plan --pairs "$pairs" --batch-size "$batch" \
  --strategy cluster --assign "$out/clusters" --query-emb "$out/emb/q.npy" \
  --doc-emb "$out/emb/d.npy" --out "$out/plan" "${common[@]}"

# the test sets with only their judged test queries: the same scores (only
# judged queries count), a fraction of the query embedding work
for set in scifact nq_qed; do
  b="$out/beir/$set"
  [ -s "$b/queries.jsonl" ] && continue
  mkdir -p "$b/qrels"
  ln -sf "$(realpath "$data/beir/$set/corpus.jsonl")" "$b/corpus.jsonl"
  ln -sf "$(realpath "$data/beir/$set/qrels/test.tsv")" "$b/qrels/test.tsv"
  "$py" - "$data/beir/$set" "$b" <<'PY'
import json, sys
src, dst = sys.argv[1], sys.argv[2]
keep = {l.split("\t")[0] for l in open(src + "/qrels/test.tsv").read().splitlines()[1:] if l}
with open(dst + "/queries.jsonl.tmp", "w") as f:
    for line in open(src + "/queries.jsonl"):
        if line.strip() and json.loads(line)["_id"] in keep:
            f.write(line)
PY
  mv "$b/queries.jsonl.tmp" "$b/queries.jsonl"
done

# ---- training and evaluation ----
train=(--pairs "$pairs" --plan "$out/plan" --config "$out/config.json" --vocab "$vocab"
       --steps "$steps" --warmup "$warmup" --lr "$lr" --tau "$tau" --max-len "$max_len"
       --chunk "$chunk" --save-every 100 --precision fp32)
for seed in ${seeds//,/ }; do
  for kind in bi ctx; do
    run="$out/runs/$kind-s$seed"
    extra=()
    [ "$kind" = ctx ] && extra=(--contextual --context-size "$J" --seq-dropout "$p")
    if [ ! -d "$run/final" ]; then
      resume=()
      ls -d "$run"/checkpoint-* >/dev/null 2>&1 && resume=(--resume)
      t "$strata" train "${train[@]}" "${extra[@]}" --out "$run" --seed "$seed" \
        "${resume[@]}" "${common[@]}"
    fi
    for set in scifact nq_qed; do
      contexts=(indomain)
      [ "$kind" = ctx ] && contexts=(indomain random null)
      for c in "${contexts[@]}"; do
        m="$out/eval/$kind-$c-s$seed-$set.json"
        [ -s "$m" ] && continue
        mkdir -p "$out/eval"
        copt=()
        [ "$c" = random ] && copt=(--context "$pairs")
        [ "$c" = null ] && copt=(--context null)
        t "$strata" eval --beir "$out/beir/$set" --model "$run/final" --max-len "$eval_len" \
          --precision fp32 --out "$m" --seed "$seed" "${copt[@]}" "${common[@]}" > "$m.txt"
      done
    done
  done
done
# strata compare: seeds pooled per query, every model against the biencoder
# (paired bootstrap intervals, randomization tests, Holm)
for set in scifact nq_qed; do
  runs=()
  for name in bi-indomain ctx-indomain ctx-random ctx-null; do
    files=()
    for seed in ${seeds//,/ }; do files+=("$out/eval/${name%%-*}-${name#*-}-s$seed-$set.json"); done
    runs+=("$name=$(IFS=,; echo "${files[*]}")")
  done
  "$strata" compare "${runs[@]}" --metric ndcg@10 --metric recall@100 \
    --out "$out/compare-$set.json" --seed 1 --quiet | tee "$out/compare-$set.txt"
done
"$py" experiments/ctx_compare.py "$out" --seeds "$seeds" --boot "${BOOT:-10000}" | tee "$out/results.md"
