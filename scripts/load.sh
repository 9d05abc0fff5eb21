#!/usr/bin/env bash
# The load benchmark: starts ministack (the local AWS emulator) on a free loopback port, builds the local API and
# `edl-load`, which starts the local API on the emulator, drives it with the launch mix (bounded in journeys,
# requests and seconds), prints throughput and latency percentiles and checks that nothing was lost; then stops the
# emulator by its process id. Arguments are passed to edl-load (e.g. --journeys 400 --concurrency 16).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv="${EDL_VENV:-$root/.venv}"
requirements=scripts/requirements-dev.txt

want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "== installing pinned tools into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" > "$venv/.requirements.sha256"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/edl-load.XXXXXX")
ministack_pid=""
cleanup() {
  if [ -n "$ministack_pid" ] && kill -0 "$ministack_pid" 2>/dev/null; then
    kill -TERM -- "-$ministack_pid" 2>/dev/null || kill -TERM "$ministack_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$ministack_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$ministack_pid" 2>/dev/null || true
    wait "$ministack_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Each on its own: built together, cargo would unify their features and rebuild the local server unlike `cargo run`.
cargo build -p edl-local-api --locked --quiet
cargo build -p edl-load --locked --quiet
port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== starting ministack on 127.0.0.1:$port"
AUTH=true BIND_HOST=127.0.0.1 GATEWAY_PORT=$port IOT_MTLS_ENABLED=0 SFTP_ENABLED=0 \
  S3_DATA_DIR="$work/s3" LOG_LEVEL=WARNING \
  setsid "$venv/bin/ministack" > "$work/ministack.log" 2>&1 &
ministack_pid=$!
for _ in $(seq 300); do
  kill -0 "$ministack_pid" 2>/dev/null || { echo "ministack exited:"; cat "$work/ministack.log"; exit 1; }
  "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/_ministack/health', timeout=1)" \
    2>/dev/null && break
  sleep 0.2
done

export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
"$root/target/debug/edl-load" --local-bin "$root/target/debug/edl-local" "$@"
