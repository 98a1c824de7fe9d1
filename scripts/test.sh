#!/usr/bin/env bash
# The project's test command (README "Quick start"): formatting, lints, then every test of
# every crate, in one debug profile so nothing is built twice.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v mkfifo >/dev/null || { echo "scripts/test.sh: mkfifo (coreutils) is required" >&2; exit 1; }
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
