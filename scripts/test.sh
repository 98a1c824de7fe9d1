#!/usr/bin/env bash
# The project's test command (README "Quick start"): formatting, lints, then every test of
# every crate, in one debug profile so nothing is built twice, then the dashboard in headless
# Chromium (scripts/browser-deps.sh installs Chromium and playwright-core when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v mkfifo >/dev/null || { echo "scripts/test.sh: mkfifo (coreutils) is required" >&2; exit 1; }
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== dashboard in headless Chromium (tests/browser)"
bash scripts/browser-deps.sh
CLIENTELE_BIN="$(realpath -m "${CARGO_TARGET_DIR:-target}")/debug/clientele" node tests/browser/dashboard.test.mjs
