#!/usr/bin/env bash
# The load benchmark: starts ministack (the local AWS emulator) on a free loopback port, builds the local API and
# `edl-load`, which starts the local API on the emulator, drives it with the launch mix (bounded in journeys,
# requests and seconds), prints throughput and latency percentiles and checks that nothing was lost; then stops the
# emulator by its process id. Arguments are passed to edl-load (e.g. --journeys 400 --concurrency 16).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/venv.sh
. scripts/ministack.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/edl-load.XXXXXX")
cleanup() {
  stop_ministack
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Each on its own: built together, cargo would unify their features and rebuild the local server unlike `cargo run`.
cargo build -p edl-local-api --locked --quiet
cargo build -p edl-load --locked --quiet
start_ministack "$work"

export AWS_ENDPOINT_URL="http://127.0.0.1:$ministack_port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
target=${CARGO_TARGET_DIR:-$root/target} # where cargo put them: the target directory the caller chose, if any
"$target/debug/edl-load" --local-bin "$target/debug/edl-local" "$@"
