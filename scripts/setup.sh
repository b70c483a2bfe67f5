#!/usr/bin/env bash
# Creates .venv, installs npsloop (plus extras given as $1, e.g. "dev") and the front-end
# assets it serves itself. Shared by run.sh and test.sh; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
if [ -n "$extras" ]; then
  .venv/bin/pip install -q -e ".[$extras]"
else
  .venv/bin/pip install -q -e .
fi
# Front-end libraries come from the npm registry and are served by npsloop (no CDN).
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
vendor=src/npsloop/web/static/vendor
mkdir -p "$vendor"
cp node_modules/echarts/dist/echarts.min.js "$vendor/"
cp node_modules/htmx.org/dist/htmx.min.js "$vendor/"
