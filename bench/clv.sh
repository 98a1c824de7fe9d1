#!/usr/bin/env bash
# `clientele clv` beside Python's lifetimes (BG/NBD + Gamma-Gamma) on a demo company
# (see bench/README.md, "CLV beside lifetimes").
#
#   bash bench/clv.sh [--customers 1000000] [--seed 42] [--repeat 3] [--no-lifetimes]
#                     [--lifetimes-timeout 1500] [--no-build]
#
# 1. builds the release binary (`cargo build --release -p clientele-cli`; --no-build uses the
#    one in target/release as it is);
# 2. generates the demo company once per size and seed into bench/data/clv-N-sS (git-ignored);
# 3. times `clientele clv --no-save --format json` --repeat times with /usr/bin/time -v
#    (wall seconds, peak RSS), then runs it once untimed with --customers --format csv for a
#    per-customer comparison;
# 4. runs bench/clv_lifetimes.py once under /usr/bin/time -v (a timeout stops it after
#    --lifetimes-timeout seconds): lifetimes reads the same demo/source/orders.csv, builds the
#    summaries, fits, scores everyone, and prints both times, the ratio and both parameter sets.
# Exits 1 when the parameters disagree beyond 3 significant digits or the runs fail.
set -euo pipefail
cd "$(dirname "$0")/.."

customers=1000000
seed=42
repeat=3
lifetimes=1
lt_timeout=1500
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --customers) customers="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --repeat) repeat="$2"; shift 2 ;;
        --no-lifetimes) lifetimes=0; shift ;;
        --lifetimes-timeout) lt_timeout="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

venv=bench/.venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if [ "$lifetimes" = 1 ] && ! "$venv/bin/python" -c 'import lifetimes' 2>/dev/null; then
    # lifetimes 0.11.3 works unchanged with numpy 2.4, pandas 3.1, scipy 1.17 (Python 3.11).
    "$venv/bin/pip" install --quiet lifetimes==0.11.3
fi
if [ ! -x /usr/bin/time ]; then
    echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2
    exit 2
fi

if [ "$build" = 1 ]; then
    cargo build --release -p clientele-cli
fi
bin="$(realpath -m "${CARGO_TARGET_DIR:-target}")/release/clientele"
"$bin" --version

ws="bench/data/clv-$customers-s$seed"
orders="$ws/demo/source/orders.csv"
if [ ! -f "$ws/.bench-complete" ]; then
    rm -rf "$ws"
    mkdir -p "$ws"
    echo "generating the demo company: $customers customers, seed $seed → $ws" >&2
    /usr/bin/time -f 'demo: %e s wall, %M KB peak RSS' \
        "$bin" --workspace "$ws" demo --customers "$customers" --seed "$seed" >/dev/null
    touch "$ws/.bench-complete"
fi
echo "orders: $(($(wc -l <"$orders") - 1)) rows, $(du -h "$orders" | cut -f1)" >&2

out="bench/data/clv-results-$customers-s$seed"
mkdir -p "$out"
times=()
rss_max=0
for i in $(seq 1 "$repeat"); do
    /usr/bin/time -v -o "$out/time-$i.txt" \
        "$bin" --workspace "$ws" clv --no-save --format json >"$out/clientele.json"
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(j=1;j<=n;j++) s=s*60+p[j]; print s}' "$out/time-$i.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/time-$i.txt")
    echo "clientele clv run $i: ${wall} s, $((rss / 1024)) MB" >&2
    times+=("$wall")
    [ "$rss" -gt "$rss_max" ] && rss_max=$rss
done
joined=$(IFS=,; echo "${times[*]}")

# Untimed: the per-customer rows, to compare summaries and scores customer by customer.
"$bin" --workspace "$ws" clv --no-save --customers --format csv >"$out/clientele-customers.csv"

if [ "$lifetimes" = 0 ]; then
    echo "clientele clv: runs ${joined} s, peak RSS $((rss_max / 1024)) MB"
    exit 0
fi

set +e
timeout "$lt_timeout" /usr/bin/time -v -o "$out/time-lifetimes.txt" \
    "$venv/bin/python" bench/clv_lifetimes.py --orders "$orders" \
    --clientele-json "$out/clientele.json" --clientele-times "$joined" \
    --clientele-rss-mb "$((rss_max / 1024))" \
    --clientele-customers "$out/clientele-customers.csv" --out "$out/result.json"
status=$?
set -e
if [ "$status" = 124 ]; then
    echo "lifetimes did not finish within $lt_timeout s (stopped)" >&2
    exit 1
fi
if [ -f "$out/time-lifetimes.txt" ]; then
    awk -F': ' '/Elapsed \(wall clock\)/ {w=$2} /Maximum resident set size/ {r=$2}
        END {printf "lifetimes process (start-up, imports, the run above and the comparison): %s wall, %d MB peak RSS\n", w, r/1024}' \
        "$out/time-lifetimes.txt"
fi
exit "$status"
