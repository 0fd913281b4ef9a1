#!/usr/bin/env bash
# hearth's whole test suite: Rust tests on SQLite, the database-backed ones again on
# PostgreSQL when it answers on 127.0.0.1:5432, and the public qarnot SDK compatibility
# suite against a real server (on SQLite, then on PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."

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

echo "== Rust tests (SQLite)"
run_rust --workspace

if pg_up; then
  echo "== Rust database tests (PostgreSQL)"
  HEARTH_TEST_DATABASE=postgres run_rust -p hearth-server
else
  echo "== PostgreSQL is not answering on 127.0.0.1:5432: PostgreSQL runs skipped"
fi

cargo build -p hearth-server
echo "== qarnot SDK compatibility (SQLite)"
bash e2e/compat/run.sh
if pg_up; then
  echo "== qarnot SDK compatibility (PostgreSQL)"
  db="hearth_compat_$$"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db" postgres
  trap 'psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" postgres' EXIT
  HEARTH_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" bash e2e/compat/run.sh
fi
