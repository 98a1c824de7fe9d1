#!/usr/bin/env bash
# Installs what the dashboard's browser tests need, idempotently: Debian's Chromium and
# ChromeDriver, and playwright-core (pinned in tests/browser/package-lock.json; it drives
# the system Chromium and downloads no browser). Safe to run again: it does nothing when all
# is present.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null; then
    echo "== installing chromium (Debian packages)"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
command -v node >/dev/null || { echo "scripts/browser-deps.sh: node (Node.js) is required for the browser tests" >&2; exit 1; }
if [ ! -d tests/browser/node_modules/playwright-core ]; then
    echo "== installing playwright-core (npm)"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
