#!/usr/bin/env bash
# Installs the dev dependencies and runs the whole suite (SQLite and PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev

# Browser tests need Debian's Chromium (never a browser download).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
    fonts-noto-cjk >/dev/null
fi

PG_URL="${NPSLOOP_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}"
if [ "${CI:-}" = "true" ]; then
  # CI must run every DB test on PostgreSQL too: start the local server if it is down.
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null 2>&1; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL unreachable at $PG_URL" >&2; exit 1; }
  export NPSLOOP_REQUIRE_POSTGRES=1
fi
export NPSLOOP_TEST_DATABASE_URL="$PG_URL"

.venv/bin/ruff check src tests bench
# Two processes on this 2-core machine (pytest-xdist): each runs its tests on its own SQLite
# file and PostgreSQL database, so they never share state.
.venv/bin/pytest -n "${NPSLOOP_TEST_PROCESSES:-2}" "$@"
