#!/usr/bin/env bash
# Regenerates docs/capacity.md: starts ministack (the local AWS emulator) on a free loopback port, runs every
# operation against it through the counting proxy of `edl-capacity`, writes the model, and stops the emulator by its
# process id. Arguments are passed to edl-capacity (e.g. --profile launch.json, --expiry-items 200).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/venv.sh
. scripts/ministack.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/edl-capacity.XXXXXX")
cleanup() {
  stop_ministack
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

cargo build -p edl-capacity --locked --quiet
start_ministack "$work"

export AWS_ENDPOINT_URL="http://127.0.0.1:$ministack_port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
EDL_MINISTACK_VERSION=$("$venv/bin/pip" show ministack 2>/dev/null | sed -n 's/^Version: //p')
export EDL_MINISTACK_VERSION
target=${CARGO_TARGET_DIR:-$root/target} # where cargo put it: the target directory the caller chose, if any
RUST_LOG=warn "$target/debug/edl-capacity" "$@"
