#!/usr/bin/env bash
# bench_read_pairs.sh — reading 1 million pairs: `strata inspect` (the pairs
# reader: line reader + cJSON per line + UTF-8 checks + one text arena, then
# the inspect statistics) against a Python peer (json.loads per line into
# lists, the usual way such files are read), side by side in the same run.
#
#   bench/bench_read_pairs.sh [N_PAIRS] [REPEATS]
#     N_PAIRS  default 1000000 (rounded up to 5 sources x 24 topics x k)
#     REPEATS  default 2; each side runs REPEATS times, the best time counts
#
# Data: `strata synth --pairs-per-topic k` into $READ_PAIRS_DATA (default
# /tmp/strata_read_pairs), generated once; also a .zst copy (zstd -3) when
# the zstd program exists. Both sides run single-threaded (--threads 1 and a
# plain Python loop). Wall time and peak RSS come from /usr/bin/time -v.
# Results go to bench/out/read_pairs.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000} REPEATS=${2:-2}
DATA=${READ_PAIRS_DATA:-/tmp/strata_read_pairs}
PY=${PYTHON:-/usr/bin/python3}
STRATA=${STRATA_BIN:-build/strata}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
mkdir -p "$DATA" bench/out
[ -n "${STRATA_BIN:-}" ] || make -s build/strata >/dev/null
K=$(( (N + 119) / 120 ))
F=$DATA/pairs_${K}.jsonl
if [ ! -f "$F" ]; then
  echo "generating $F ($((K * 120)) pairs)"
  "$STRATA" synth --out "$DATA/synth_$K" --pairs-per-topic "$K" --test-queries 10 --corpus 100 --quiet
  mv "$DATA/synth_$K/pairs.jsonl" "$F"
  rm -rf "$DATA/synth_$K"
fi
if command -v zstd >/dev/null && [ ! -f "$F.zst" ]; then zstd -q -3 "$F" -o "$F.zst"; fi
BYTES=$(stat -c %s "$F")
MB=$(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1e6 }')

cat > "$DATA/peer.py" <<'PYEOF'
import json, sys
qs, ps, ss = [], [], []
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        if not line.strip():
            continue
        o = json.loads(line)
        qs.append(o["query"]); ps.append(o["positive"]); ss.append(o.get("source", "default"))
print(len(qs), "pairs", len(set(ss)), "sources")
PYEOF

# run NAME CMD...: best wall seconds, its CPU seconds (user + sys) and peak
# RSS (MiB) over REPEATS runs. CPU time is the steadier figure when other
# jobs share the cores.
run() {
  local name=$1; shift
  local best="" cpu="" rss=""
  for _ in $(seq "$REPEATS"); do
    /usr/bin/time -v "$@" > "$DATA/$name.out" 2> "$DATA/$name.time"
    local t c r
    t=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s }' "$DATA/$name.time")
    c=$(awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$DATA/$name.time")
    r=$(awk -F': ' '/Maximum resident/ { printf "%.0f", $2 / 1024 }' "$DATA/$name.time")
    if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; cpu=$c; rss=$r; fi
  done
  echo "$name $best $cpu $rss"
}

{
  echo "read_pairs: $F, $BYTES bytes ($MB MB), $(head -c 0 "$F"; wc -l < "$F") lines; best of $REPEATS"
  echo "$(date -u +%FT%TZ) $(uname -m), $(nproc) cores"
  printf "%-22s %8s %8s %8s %9s %9s\n" side wall_s cpu_s MB/s_wall MB/s_cpu peak_MiB
  for spec in "strata_inspect:$STRATA inspect $F --threads 1 --quiet" \
              "strata_inspect_zst:$STRATA inspect $F.zst --threads 1 --quiet" \
              "python_json_loads:$PY $DATA/peer.py $F"; do
    name=${spec%%:*} cmd=${spec#*:}
    case $name in *zst) [ -f "$F.zst" ] || continue ;; esac
    read -r _ t c r < <(run "$name" $cmd)
    printf "%-22s %8.2f %8.2f %8.1f %9.1f %9s\n" "$name" "$t" "$c" \
      "$(awk -v b="$BYTES" -v t="$t" 'BEGIN { print b / 1e6 / t }')" \
      "$(awk -v b="$BYTES" -v t="$c" 'BEGIN { print b / 1e6 / t }')" "$r"
  done
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee bench/out/read_pairs.txt
grep -h "pairs" "$DATA/strata_inspect.out" | head -1
cat "$DATA/python_json_loads.out"
