#!/usr/bin/env bash
# Runs schemathesis (every check) against a real hearth server's /openapi.json with the
# owner token a fresh data directory gets, then prints the counts.
#
#   bash e2e/contract/run.sh [schemathesis run args...]
#
# HEARTH_BIN  the hearth binary (default: target/debug/hearth in the repository)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="${HEARTH_BIN:-$repo/target/debug/hearth}"
if [[ ! -x "$bin" ]]; then
  echo "error: no hearth binary at $bin (cargo build -p hearth-server, or set HEARTH_BIN)" >&2
  exit 1
fi

venv="$repo/e2e/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$here/requirements.txt" </dev/null

# shellcheck source=../serve.sh
source "$here/../serve.sh"
start_hearth "$bin"

cd "$here"
# Every check runs (`checks.enabled = true` in the config, where the exceptions are; a
# `--checks` here would override them). GET /events and an instance's output stream stay
# open: their own tests (backend/server/tests/*/events.rs, e2e/output.rs) cover them.
# POST /auth/token slows refused sign-ins down per client (up to 8 s each), and no
# generated email and password is ever accepted: backend/server/tests/api/accounts.rs
# covers its answers and refusals.
"$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run \
  "http://127.0.0.1:$port/openapi.json" \
  --exclude-path /events \
  --exclude-path /auth/token \
  --exclude-path '/tasks/{uuid}/instances/{instance_id}/output' \
  -H "Authorization: Bearer $(cat "$data/owner.token")" \
  --no-color \
  "$@" </dev/null
