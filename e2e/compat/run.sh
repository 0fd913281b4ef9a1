#!/usr/bin/env bash
# Runs the Qarnot SDK compatibility suite against a real hearth server.
#
#   bash e2e/compat/run.sh [pytest args...]
#
# HEARTH_BIN           the hearth binary (default: target/debug/hearth in the repository)
# HEARTH_DATABASE_URL  passed to `hearth serve --database-url` when set (e.g. PostgreSQL)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

if [[ -n "${HEARTH_BIN:-}" ]]; then
  bin="$HEARTH_BIN"
else
  bin="$repo/target/debug/hearth"
fi
if [[ ! -f "$bin" || ! -x "$bin" ]]; then
  echo "error: no hearth binary at $bin" >&2
  echo "build it first with: cargo build -p hearth-server   (or set HEARTH_BIN)" >&2
  exit 1
fi
HEARTH_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export HEARTH_BIN

venv="$repo/e2e/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$here/requirements.txt" </dev/null

cd "$repo"
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m pytest -q e2e/compat "$@" </dev/null
