#!/usr/bin/env bash
# Does `clientele clv` recover the demo company's generating parameters? (bench/README.md)
#
#   bash bench/recovery.sh [--customers 100000] [--seed 42] [--bin PATH]
#
# Generates the demo company into a fresh workspace bench/data/recovery-N-sS (git-ignored),
# runs `clientele clv --format json` on it, and compares every BG/NBD parameter (r, alpha, a,
# b) and Gamma-Gamma parameter (p, q, gamma) with demo/truth/ground_truth.json
# (purchase_process r, alpha, a, b; spend_process p, q, gamma_in_currency). Prints the
# estimate, its standard error, the truth and (estimate − truth) / SE; exits 1 when any truth
# lies outside 3 standard errors (or a standard error is missing), 0 otherwise.
# Uses the release binary (built by `cargo build --release -p clientele-cli` when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

customers=100000
seed=42
bin="$(realpath -m "${CARGO_TARGET_DIR:-target}")/release/clientele"
while [ $# -gt 0 ]; do
    case "$1" in
        --customers) customers="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --bin) bin="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ ! -x "$bin" ]; then
    cargo build --release -p clientele-cli
fi

ws="bench/data/recovery-$customers-s$seed"
rm -rf "$ws"
mkdir -p "$ws"
echo "demo: $customers customers, seed $seed → $ws" >&2
"$bin" --workspace "$ws" demo --customers "$customers" --seed "$seed" >/dev/null
"$bin" --workspace "$ws" clv --format json >"$ws/clv.json"

python3 - "$ws/demo/truth/ground_truth.json" "$ws/clv.json" <<'EOF'
import json, sys

truth = json.load(open(sys.argv[1]))
fit = json.load(open(sys.argv[2]))
pp, sp = truth["purchase_process"], truth["spend_process"]
spend = fit["spend"]
rows = [(k, fit["params"][k], (fit.get("std_errors") or {}).get(k), pp[k]) for k in ("r", "alpha", "a", "b")]
rows += [(f"spend {k}", spend[k], (spend.get("std_errors") or {}).get(k), sp["gamma_in_currency" if k == "gamma" else k])
         for k in ("p", "q", "gamma")]
print(f"clientele clv on the demo company: {fit['n_customers']} customers, "
      f"{fit.get('n_repeat_buyers')} repeat buyers, calibration end {fit.get('calibration_end')}")
print("| parameter | estimate | std error | truth | (estimate − truth) / SE | within 3 SE |")
print("|---|---|---|---|---|---|")
bad = 0
for name, est, se, tv in rows:
    if se is None or not se > 0:
        z, ok = None, False
    else:
        z = (est - tv) / se
        ok = abs(z) <= 3
    bad += not ok
    zs = f"{z:+.2f}" if z is not None else "no SE"
    print(f"| {name} | {est:.6g} | {se if se is None else f'{se:.3g}'} | {tv:.6g} | {zs} | {'yes' if ok else 'NO'} |")
if bad:
    print(f"{bad} parameter(s) outside 3 standard errors of the truth")
sys.exit(1 if bad else 0)
EOF
