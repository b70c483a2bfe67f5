#!/usr/bin/env bash
# Installs npsloop and starts it on SQLite with the demo workspace: http://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/npsloop serve "$@"
