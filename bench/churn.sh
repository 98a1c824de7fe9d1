#!/usr/bin/env bash
# Times `clientele churn --no-save --format json` on the demo company of bench/clv.sh
# (bench/README.md, "Churn at 1M customers").
#
#   bash bench/churn.sh [--customers 1000000] [--seed 42] [--repeat 3]
#
# Uses the workspace bench/data/clv-N-sS that bench/clv.sh generates (run that first, or
# `bash bench/clv.sh --no-lifetimes --repeat 1`), and the release binary it builds. Prints each
# run's wall time and peak RSS (/usr/bin/time -v), their median and highest, and the metrics
# of the last run (ROC AUC, PR AUC, Brier score of both models on the validation snapshot).
set -euo pipefail
cd "$(dirname "$0")/.."

customers=1000000
seed=42
repeat=3
while [ $# -gt 0 ]; do
    case "$1" in
        --customers) customers="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --repeat) repeat="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
bin="$(realpath -m "${CARGO_TARGET_DIR:-target}")/release/clientele"
ws="bench/data/clv-$customers-s$seed"
if [ ! -f "$ws/.bench-complete" ] || [ ! -x "$bin" ]; then
    echo "no workspace $ws or no release binary: run bash bench/clv.sh --customers $customers --seed $seed first" >&2
    exit 2
fi
out="bench/data/churn-results-$customers-s$seed"
mkdir -p "$out"
: >"$out/runs.txt"
for i in $(seq 1 "$repeat"); do
    /usr/bin/time -v -o "$out/time-$i.txt" \
        "$bin" --workspace "$ws" churn --no-save --format json >"$out/churn.json"
    awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(j=1;j<=n;j++) s=s*60+p[j]; w=s}
        /Maximum resident set size/ {r=$2}
        END {printf "%.2f %d\n", w, r/1024}' "$out/time-$i.txt" | tee -a "$out/runs.txt" |
        awk -v i="$i" '{printf "churn run %d: %.2f s, %d MB peak RSS\n", i, $1, $2}'
done
sort -n "$out/runs.txt" | awk '{t[NR]=$1; if ($2>m) m=$2}
    END {med=(NR%2)?t[(NR+1)/2]:(t[NR/2]+t[NR/2+1])/2; printf "median %.2f s of %d runs, highest peak RSS %d MB\n", med, NR, m}'
python3 - "$out/churn.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
skip = {"tables"}
for k, v in d.items():
    if k not in skip:
        print(f"{k}: {json.dumps(v)[:400]}")
PY
