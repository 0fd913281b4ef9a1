# Sourced by the e2e suites' run.sh: start_hearth BIN starts a real `hearth serve` on a
# fresh data directory and a free port, waits until it answers /health and has written the
# owner token, and stops it (and removes the directory) when the script exits.
# Sets: data (the data directory), port, server (its pid).

start_hearth() {
  local bin="$1"
  data="$(mktemp -d)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "$bin" serve --data-dir "$data" --bind "127.0.0.1:$port" >"$data/serve.log" 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
  for _ in $(seq 1 150); do
    if [[ -s "$data/owner.token" ]] && curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  echo "error: hearth did not start:" >&2
  cat "$data/serve.log" >&2
  exit 1
}
