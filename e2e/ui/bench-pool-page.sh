#!/usr/bin/env bash
# The pool page at scale (see bench-pool-page.mjs): a real `hearth serve` with 64 local
# nodes of 16 slots, Debian's Chromium. Not part of the test suite: a benchmark, printing
# figures beside the machine's own, never asserting times.
#
#   bash e2e/ui/bench-pool-page.sh        # HEARTH_BIN defaults to target/release/hearth
#
# BENCH_NODES, BENCH_SLOTS (64, 16) and BENCH_WINDOW_MS (20000) change the sizes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="${HEARTH_BIN:-$repo/target/release/hearth}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$bin" ]]; then
  echo "error: no hearth binary at $bin (cargo build --release -p hearth-server, or set HEARTH_BIN)" >&2
  exit 1
fi
if [[ ! -d "$here/node_modules/playwright-core" ]]; then
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund >/dev/null)
fi
# shellcheck source=../serve.sh
source "$here/../serve.sh"
start_hearth "$bin"
if ! grep -q "serving the browser bundle" "$data/serve.log"; then
  echo "error: hearth serves no browser bundle built from these sources (scripts/build-ui.sh)" >&2
  exit 1
fi
HEARTH_URL="http://127.0.0.1:$port" HEARTH_TOKEN="$(cat "$data/owner.token")" \
  node "$here/bench-pool-page.mjs"
