#!/usr/bin/env bash
# Runs bench/compare.py: clientele beside DuckDB on generated orders (see bench/README.md).
#
#   bash bench/run.sh [--build] [compare.py options, e.g. --rows 1000000 --markdown]
#
# Makes the virtualenv bench/.venv with duckdb and psutil the first time, builds the release
# binary when it is missing (or when --build is given), then hands every other argument to
# compare.py. Generated data is cached in bench/data/ (both folders are git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

build=0
args=()
for a in "$@"; do
    if [ "$a" = "--build" ]; then build=1; else args+=("$a"); fi
done

venv=bench/.venv
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import duckdb, psutil' 2>/dev/null; then
    "$venv/bin/pip" install --quiet duckdb psutil
fi

bin="$(realpath -m "${CARGO_TARGET_DIR:-target}")/release/clientele"
if [ "$build" = 1 ] || [ ! -x "$bin" ]; then
    cargo build --release -p clientele-cli
fi

exec "$venv/bin/python" bench/compare.py --bin "$bin" "${args[@]}"
