#!/usr/bin/env bash
# The stack test: builds every function's bootstrap as `sam build` (BuildMethod rust-cargolambda) does, zipped, for
# this machine's architecture, then deploys template.yaml onto ministack (its own instance, over TLS, on a free
# loopback port) with a loopback OIDC issuer, drives it end to end, deletes the stack and stops everything it started.
# See "The stack on the emulator" in README.md. Run by scripts/test.sh; runs alone too.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/venv.sh
export PATH="$venv/bin:$PATH" # cargo-lambda, and the zig it links with

case "$(uname -m)" in
  x86_64 | amd64) arch_flag=--x86-64 ;;
  aarch64 | arm64) arch_flag=--arm64 ;;
  *) echo "stack test: no Lambda architecture for $(uname -m)"; exit 1 ;;
esac

# `sam build` runs `cargo lambda build --release [--arm64] --bin <Binary>` in each function's CodeUri, its own
# package's directory: cargo then selects that package alone, so a function links only the features (SDKs, adapters)
# it asks for, and the local server's `dev` feature of edl-shared stays out (scripts/stack/no_dev_code.py below
# checks the binaries for it). The release profile (fat LTO, one codegen unit) would take most of CI's time for
# eleven binaries on two cores, so the stack test lightens it through cargo's own variables and builds in a target
# directory of its own, leaving real release builds alone: same code, features, panic=abort and stripping, less
# optimisation.
target=${CARGO_TARGET_DIR:-$root/target}
functions=$(awk '$1 == "Binary:" { binary = $2 } $1 == "CodeUri:" && binary != "" { print binary ":" $2; binary = "" }' template.yaml)
start=$SECONDS
for function in $functions; do
  binary=${function%%:*}
  directory=${function#*:}
  echo "== ($directory) cargo lambda build --release $arch_flag --bin $binary (profile lightened, see scripts/stack-test.sh)"
  (cd "$directory" && CARGO_TARGET_DIR="$target/stack" CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo lambda build --release "$arch_flag" --locked --output-format zip --bin "$binary")
done
echo "== functions built in $((SECONDS - start)) s"

# The operator's tools, in the ordinary development profile: the key bootstrap (edl-local) and the camera photo.
cargo build --locked -q -p edl-local-api --bin edl-local -p edl-tests --example id_photo

# No development code in what is deployed: searched in every function built, and found in edl-local.
echo "== no development code in the functions"
"$venv/bin/python" scripts/stack/no_dev_code.py "$target/debug/edl-local" "$target"/stack/lambda/*/bootstrap.zip

# Every function linked at a fixed address (docs/adr/0002-fixed-address-functions.md), as SAM's build links it.
echo "== every function linked at a fixed address"
"$venv/bin/python" scripts/stack/fixed_address.py "$target/debug/edl-local" "$target"/stack/lambda/*/bootstrap.zip

artefacts=$(mktemp -d "${TMPDIR:-/tmp}/edl-artefacts.XXXXXX")
trap 'rm -rf "$artefacts"' EXIT
for zip in "$target"/stack/lambda/*/bootstrap.zip; do
  cp "$zip" "$artefacts/$(basename "$(dirname "$zip")").zip"
done

"$venv/bin/python" scripts/stack/stack_test.py --artefacts "$artefacts" \
  --edl-local "$target/debug/edl-local" --id-photo "$target/debug/examples/id_photo"
