#!/usr/bin/env bash
# Load test of `clientele serve` (issue 4): p50/p95/p99 latency and throughput of the
# overview KPIs, a sales drill-down, a customer 360 and a CSV export, with wrk on loopback.
#
#   bash bench/server.sh [--customers 233000] [--seconds 20] [--connections 32] [--bin PATH]
#
# Generates the demo company (233,000 customers ≈ 1,000,000 orders) into
# bench/data/server-N (git-ignored; reused when present), adds a user, starts the release
# binary's server on a free port, requests each URL once (the first request of a workspace
# version computes; later ones may be served from the server's cache, as a dashboard's
# would be), then runs wrk with 2 threads and the given connections on each URL in turn and
# prints a markdown table. Installs wrk from Debian's packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

customers=233000
seconds=20
connections=32
bin="$(realpath -m "${CARGO_TARGET_DIR:-target}")/release/clientele"
while [ $# -gt 0 ]; do
    case "$1" in
        --customers) customers="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get install -y -qq wrk >/dev/null
fi
if [ ! -x "$bin" ]; then
    cargo build --release -p clientele-cli
fi

ws="bench/data/server-$customers"
if [ ! -f "$ws/manifest.json" ]; then
    rm -rf "$ws"
    mkdir -p "$ws"
    echo "demo: $customers customers → $ws" >&2
    "$bin" --workspace "$ws" demo --customers "$customers" >/dev/null
fi
orders=$("$bin" --workspace "$ws" sql "SELECT COUNT(*) AS n FROM orders" --format csv | tail -1)
user="bench-$$"
export CLIENTELE_TOKEN
CLIENTELE_TOKEN=$("$bin" --workspace "$ws" users add "$user" --role admin 2>/dev/null)

log="$ws/server.log"
CLIENTELE_LOG=warn "$bin" --workspace "$ws" serve --bind 127.0.0.1:0 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null || true; "$bin" --workspace "$ws" users remove "$user" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    base=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
    [ -n "$base" ] && break
    sleep 0.2
done
[ -n "$base" ] || { echo "the server did not start: $(cat "$log")" >&2; exit 1; }

region=$(curl -sf -H "Authorization: Bearer $CLIENTELE_TOKEN" "$base/api/v1/sales?by=region" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0]["region"])')
customer=$(curl -sf -H "Authorization: Bearer $CLIENTELE_TOKEN" "$base/api/v1/customers?page_size=1&page=100" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"][0]["customer_id"])')
declare -a names=("overview KPIs" "drill-down: sales by rep in $region" "customer 360 ($customer)" "CSV export: sales by customer, latest quarter")
declare -a urls=(
    "$base/api/v1/kpis"
    "$base/api/v1/sales?by=rep&region=$region"
    "$base/api/v1/customers/$customer"
    "$base/api/v1/sales?by=customer&format=csv"
)

echo "workspace $ws: $customers customers, $orders orders; $connections connections, 2 wrk threads, ${seconds}s per URL; $(nproc) cores" >&2
echo
# The server's memory: VmHWM is the peak resident set since it started, VmRSS the current one.
rss() { awk -v k="$1:" '$1 == k { printf "%.0f", $2 / 1024 }' "/proc/$server/status"; }
echo "| request | first request (s) | requests/s | p50 ms | p95 ms | p99 ms | max ms | errors | server peak RSS MB after |"
echo "|---|---|---|---|---|---|---|---|---|"
run() {
    local name="$1" url="$2" script="$3" first json
    first=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $CLIENTELE_TOKEN" "$url")
    json=$(wrk -t2 -c"$connections" -d"${seconds}s" --timeout 30s -s "$script" "$url" | tail -1)
    python3 - "$name" "$first" "$json" "$(rss VmHWM)" <<'PY'
import json, sys
name, first, r, peak = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
print(f"| {name} | {first:.3f} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['errors'] + r['non_2xx']} | {peak} |")
PY
}
for i in "${!urls[@]}"; do
    run "${names[$i]}" "${urls[$i]}" bench/wrk_report.lua
done
# Varying the parameters: every request a different date range, so nothing is answered from
# the cache and an unbounded cache would grow with every request.
run "sales by customer, a new date range each request" "$base/api/v1/sales?by=customer" bench/wrk_vary.lua
run "transactions CSV export (all time, streamed)" "$base/api/v1/transactions?from=1900-01-01&to=2100-12-31&format=csv" bench/wrk_report.lua
echo
echo "server memory at the end: peak RSS $(rss VmHWM) MB, current RSS $(rss VmRSS) MB"
