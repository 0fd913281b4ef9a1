#!/usr/bin/env bash
# The dashboard in a real browser: starts a real `hearth serve` on a fresh data directory
# and drives Debian's Chromium (/usr/bin/chromium, never a downloaded one) with
# playwright-core through dashboard.mjs. Screenshots go to e2e/ui/screenshots/.
#
# HEARTH_BIN  the hearth binary (default: target/debug/hearth in the repository)
# CHROMIUM    the browser (default: /usr/bin/chromium)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="${HEARTH_BIN:-$repo/target/debug/hearth}"
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$bin" ]]; then
  echo "error: no hearth binary at $bin (cargo build -p hearth-server, or set HEARTH_BIN)" >&2
  exit 1
fi
if [[ ! -x "$CHROMIUM" ]]; then
  echo "error: no browser at $CHROMIUM (apt-get install chromium)" >&2
  exit 1
fi
if [[ ! -d "$here/node_modules/playwright-core" || ! -f "$here/node_modules/axe-core/axe.min.js" ]]; then
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --silent --no-audit --no-fund >/dev/null)
fi

# shellcheck source=../serve.sh
source "$here/../serve.sh"
start_hearth "$bin"
if ! grep -q "dashboard: http://" "$data/serve.log"; then
  echo "error: hearth did not print the dashboard URL" >&2
  exit 1
fi

mkdir -p "$here/screenshots"
# The live pages need the bundle: the committed one is embedded when it matches the
# sources, a fresh scripts/build-ui.sh build is preferred.
if ! grep -q "serving the browser bundle" "$data/serve.log"; then
  echo "error: hearth serves no browser bundle built from these sources (run scripts/build-ui.sh --commit)" >&2
  exit 1
fi
echo "e2e/ui: $(grep -o 'serving the browser bundle.*' "$data/serve.log" | head -n1)"
EXPECT_HYDRATION=1 HEARTH_URL="http://127.0.0.1:$port" HEARTH_TOKEN="$(cat "$data/owner.token")" \
  HEARTH_OPERATOR_TOKEN="$(cat "$data/operator.token")" \
  SCREENSHOTS="$here/screenshots" node "$here/dashboard.mjs"
