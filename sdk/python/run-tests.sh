#!/usr/bin/env bash
# Tests hearth's Python SDK against a real `hearth serve` (SQLite).
#
#   bash sdk/python/run-tests.sh [pytest args...]
#
# Makes sdk/python/.venv when missing, installs the SDK from sdk/python with its test
# extras (what `pip install ./sdk/python[test]` installs, the package itself not editable),
# runs `mypy --strict` on the package, then pytest. Exits non-zero on any failure.
#
# HEARTH_BIN   the hearth binary (default: target/debug/hearth in the repository; build it
#              with `cargo build -p hearth-server`)
# PYTHON       the interpreter that makes the venv (default: python3; 3.10 or later)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

bin="${HEARTH_BIN:-$repo/target/debug/hearth}"
if [[ ! -f "$bin" || ! -x "$bin" ]]; then
  echo "error: no hearth binary at $bin" >&2
  echo "build it first with: cargo build -p hearth-server   (or set HEARTH_BIN)" >&2
  exit 1
fi
HEARTH_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
export HEARTH_BIN

venv="$here/.venv"
if [[ ! -x "$venv/bin/python" ]]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check --upgrade pip </dev/null
# Not editable: the tests exercise the package as pip installs it.
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$here" </dev/null
"$py" -m pip install --quiet --disable-pip-version-check "$here[test]" </dev/null

cd "$here"
export PYTHONDONTWRITEBYTECODE=1
echo "== mypy --strict (the installed package)"
# From another directory, so that `-p hearth` finds the installed package (through its
# py.typed), not the sources.
(cd "$venv" && "$py" -m mypy --strict --config-file "$here/pyproject.toml" \
  --cache-dir "$here/.mypy_cache" -p hearth)
echo "== pytest"
exec "$py" -m pytest -q -p no:cacheprovider tests "$@" </dev/null
