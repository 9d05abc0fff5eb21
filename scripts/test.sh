#!/usr/bin/env bash
# Runs every test: installs the pinned tools into .venv if needed, checks formatting and
# lints, checks template.yaml offline, starts ministack (the local AWS emulator) on a free loopback port, runs the
# whole Rust workspace's tests against it, and stops it by its process id; then the consoles: their type check,
# their build compared with the committed consoles/dist, and the browser tests (Playwright in Debian's Chromium)
# against edl-local on another free loopback port, stopped by its process id too; last the stack test
# (scripts/stack-test.sh): the template built, deployed onto an emulator of its own and driven end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# 1. Tools, installed once per change of the pinned versions.
. scripts/venv.sh
. scripts/ministack.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/edl-test.XXXXXX")
consoles_pid=""
stop_consoles() {
  if [ -n "$consoles_pid" ] && kill -0 "$consoles_pid" 2>/dev/null; then
    kill -TERM "$consoles_pid" 2>/dev/null || true
    wait "$consoles_pid" 2>/dev/null || true
  fi
  consoles_pid=""
}
cleanup() {
  stop_consoles
  stop_ministack
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# 2. Formatting and lints: the gates every change passes.
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

# 3. The template, offline.
echo "== cfn-lint template.yaml"
"$venv/bin/cfn-lint" template.yaml
echo "== SAM transform, offline"
AWS_DEFAULT_REGION=us-east-1 "$venv/bin/python" scripts/sam_transform.py template.yaml "$work/transformed.json"
"$venv/bin/cfn-lint" "$work/transformed.json"
export EDL_TRANSFORMED_TEMPLATE="$work/transformed.json"

# 4. ministack on a free loopback port, in a process group of its own.
start_ministack "$work"

# 5. Every test of the workspace, against it.
export AWS_ENDPOINT_URL="http://127.0.0.1:$ministack_port"
# The Python of the pinned tools, for tests that check our formats with independent decoders.
export EDL_PYTHON="$venv/bin/python"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "== cargo test --workspace"
status=0
# Every test binary runs even after one fails, so that one run shows every failure.
cargo test --workspace --locked --no-fail-fast || status=$?
if [ "$status" -ne 0 ]; then
  echo "== tests failed (exit $status); last lines of the ministack log:"
  tail -n 30 "$work/ministack.log" || true
fi
stop_ministack

# 6. The consoles in a real browser, against edl-local with its embedded storage (no emulator).
consoles=$root/consoles
want=$(sha256sum "$consoles/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$consoles/node_modules/.package-lock.sha256" 2>/dev/null)" != "$want" ]; then
  echo "== npm ci (consoles)"
  (cd "$consoles" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$consoles/node_modules/.package-lock.sha256"
fi
if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  echo "== installing Debian's chromium and a Chinese font"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-wqy-microhei > /dev/null
fi
echo "== consoles: type check, and the committed build is what the sources build to"
(cd "$consoles" && npm run --silent check && node build.mjs --out "$work/consoles-dist")
diff -r "$consoles/dist" "$work/consoles-dist" \
  || { echo "consoles/dist differs from its sources: run 'npm run build' in consoles/ and commit dist/"; exit 1; }
cargo build -p edl-local-api --locked --quiet
# Where cargo put it: the target directory the caller chose, if any.
target=${CARGO_TARGET_DIR:-$root/target}
console_port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== browser tests against edl-local on 127.0.0.1:$console_port"
env -u AWS_ENDPOINT_URL RUST_LOG=warn "$target/debug/edl-local" --port "$console_port" --samples 100 \
  > "$work/edl-local.log" 2>&1 &
consoles_pid=$!
for _ in $(seq 100); do
  "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$console_port/consoles/config.json', timeout=1)" \
    2>/dev/null && break
  kill -0 "$consoles_pid" 2>/dev/null || { echo "edl-local exited:"; cat "$work/edl-local.log"; exit 1; }
  sleep 0.2
done
browser=0
(cd "$consoles" && EDL_BASE_URL="http://127.0.0.1:$console_port" EDL_LOCAL_BIN="$target/debug/edl-local" \
  npx --no-install playwright test) || browser=$?
if [ "$browser" -ne 0 ]; then
  echo "== browser tests failed (exit $browser); screenshots and traces in consoles/test-results; edl-local log:"
  tail -n 30 "$work/edl-local.log" || true
  [ "$status" -ne 0 ] || status=$browser
fi
stop_consoles

# 7. The stack test: template.yaml built, deployed onto an emulator of its own and driven end to end.
echo "== stack test (scripts/stack-test.sh)"
unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
stack=0
scripts/stack-test.sh || stack=$?
[ "$status" -ne 0 ] || status=$stack
exit "$status"
