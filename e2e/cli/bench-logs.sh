#!/usr/bin/env bash
# How soon `hearth tasks logs -f` prints a line after the instance wrote it, beside the
# machine's own floor measured in the same run: the time `hearth whoami` (one CLI start and
# one API round trip) takes, and a `GET /health` round trip.
#
#   bash e2e/cli/bench-logs.sh [LINES] [GAP]   (default 40 lines, one every GAP = 0.1 s)
#
# HEARTH_BIN  the hearth binary (default: target/release/hearth, else target/debug/hearth)
# Prints the latencies (p50, p95, max) of each line: the instance stamps each line with
# its wall clock (date +%s.%N), the reader stamps it when `logs -f` hands it over.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="${HEARTH_BIN:-$repo/target/release/hearth}"
[[ -x "$bin" ]] || bin="$repo/target/debug/hearth"
[[ -x "$bin" ]] || { echo "error: build hearth first (cargo build --release -p hearth-server)" >&2; exit 1; }
lines="${1:-40}"
gap="${2:-0.1}"

# shellcheck source=../serve.sh
source "$here/../serve.sh"
start_hearth "$bin"
export HOME="$data/home" XDG_CONFIG_HOME="$data/home/xdg"
unset HEARTH_URL HEARTH_TOKEN HEARTH_PROFILE
url="http://127.0.0.1:$port"
"$bin" login --url "$url" --token "$(cat "$data/owner.token")" >/dev/null
"$bin" pools create bench --profile docker-batch --slots 1 --wait -o json >/dev/null

floor=$(python3 - "$bin" "$url" <<'EOF'
import statistics, subprocess, sys, time, urllib.request
bin, url = sys.argv[1], sys.argv[2]
cli, health = [], []
for _ in range(10):
    t = time.monotonic(); subprocess.run([bin, "whoami"], capture_output=True, check=True)
    cli.append((time.monotonic() - t) * 1000)
    t = time.monotonic(); urllib.request.urlopen(url + "/health").read()
    health.append((time.monotonic() - t) * 1000)
print(f"{statistics.median(cli):.1f} {statistics.median(health):.2f}")
EOF
)

# The words after `--` are the instance's shell command line.
task=$("$bin" tasks submit --pool bench --name stamped -o json -- \
  "for i in \$(seq 1 $lines); do date +%s.%N; sleep $gap; done" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["uuid"])')

"$bin" tasks logs "$task" -f --instance 0 | python3 -c '
import statistics, sys, time
lat = []
for line in sys.stdin:
    now = time.time()
    try:
        lat.append((now - float(line.strip())) * 1000)
    except ValueError:
        pass
# The first line is written as the instance starts, usually before the follower is
# connected: it measures the start, not the stream, and is shown apart.
first, lat = lat[0], sorted(lat[1:])
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
floor_cli, floor_health = sys.argv[1].split()
print(f"logs -f: {len(lat) + 1} lines {sys.argv[2]} s apart, written -> printed p50 {p(0.5):.1f} ms, "
      f"p95 {p(0.95):.1f} ms, max {lat[-1]:.1f} ms (first line {first:.1f} ms)")
print(f"floor (same run): hearth whoami {floor_cli} ms (process start + one API call), "
      f"GET /health {floor_health} ms")
' "$floor" "$gap"
