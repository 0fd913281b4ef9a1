#!/usr/bin/env bash
# hearth's whole test suite: Rust tests on SQLite, the database-backed ones again on
# PostgreSQL when it answers on 127.0.0.1:5432, and the public qarnot SDK compatibility
# suite against a real server (on SQLite, then on PostgreSQL), after schemathesis has
# checked the live server against its own /openapi.json; hearth's Python SDK against a real
# server; then the dashboard in a browser.
set -uo pipefail
cd "$(dirname "$0")/.."

# Every suite runs even when an earlier one fails; the script fails at the end if any did.
failed=()
suite() {
  local name=$1; shift
  echo "== $name"
  if ! "$@"; then failed+=("$name"); fi
}

pg_up() {
  python3 - <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", 5432))
except OSError:
    sys.exit(1)
PY
}

if cargo nextest --version >/dev/null 2>&1; then
  run_rust() { cargo nextest run --no-fail-fast "$@"; }
else
  run_rust() { cargo test --no-fail-fast "$@"; }
fi

on_postgres() { HEARTH_TEST_DATABASE=postgres "$@"; }

suite "Rust tests (SQLite)" run_rust --workspace

if pg_up; then
  suite "Rust database tests (PostgreSQL)" on_postgres run_rust -p hearth-server
else
  echo "== PostgreSQL is not answering on 127.0.0.1:5432: PostgreSQL runs skipped"
fi

cargo build -p hearth-server || exit 1
suite "API contract: schemathesis against /openapi.json" bash e2e/contract/run.sh
suite "qarnot SDK compatibility (SQLite)" bash e2e/compat/run.sh
if pg_up; then
  db="hearth_compat_$$"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db" postgres
  trap 'psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres' EXIT
  suite "qarnot SDK compatibility (PostgreSQL)" \
    env HEARTH_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" bash e2e/compat/run.sh
fi

# hearth's own Python SDK (sdk/python): mypy --strict, then pytest against a real server.
suite "Python SDK (sdk/python)" bash sdk/python/run-tests.sh

# The dashboard in Debian's Chromium (hydrated when scripts/build-ui.sh has built the bundle,
# server-rendered otherwise; both are what a user can get).
if [ -x /usr/bin/chromium ] && command -v npm >/dev/null 2>&1; then
  suite "dashboard in Chromium (e2e/ui)" bash e2e/ui/run.sh
else
  echo "== /usr/bin/chromium or npm missing: dashboard browser test skipped (.ci/run installs them)"
fi

if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED suites: %s\n' "${failed[*]}"
  exit 1
fi
echo "all suites passed"
