#!/usr/bin/env bash
# Builds the dashboard's browser bundle into target/site/pkg (hearth_ui.js, hearth_ui_bg.wasm),
# which `hearth serve` then offers under /pkg (HEARTH_UI_BUNDLE names another folder).
# Without it the dashboard still works, rendered on the server only.
#
# The recipe of ../shared/reference/wasm-build.md: rustup's wasm target cannot be downloaded
# here, so Debian's rustc-web builds std for wasm itself (-Zbuild-std). Installs what is
# missing (apt packages; the wasm-bindgen CLI of the exact Cargo.lock version, once per
# machine; wasm-opt from npm binaryen@132 when npm is there, else the bundle stays unoptimised).
#
#   --commit  also copy the bundle into frontend/bundle/ (committed: `hearth serve` embeds it,
#             so a fresh machine's `cargo run --release -- serve` hydrates without this script)
#   --check   fail when frontend/bundle/ was not built from the current sources (CI)
#
# Every bundle carries SOURCES: the digest of what it is built from (the list below, which
# backend/server/build.rs repeats). The server serves only a bundle whose digest is that of
# its own sources.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
case "$mode" in
  ""|--commit|--check) ;;
  *) echo "usage: scripts/build-ui.sh [--commit|--check]" >&2; exit 2 ;;
esac

# The sources' digest: sha256sum of each file, in byte order of their paths, then of that list.
sources_digest() {
  { find frontend/src frontend/style -type f; printf '%s\n' frontend/Cargo.toml Cargo.lock scripts/build-ui.sh; } \
    | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1
}
digest=$(sources_digest)
committed=$(cut -d' ' -f1 frontend/bundle/SOURCES 2>/dev/null || true)
if [ "$mode" = --check ] && [ "$committed" != "$digest" ]; then
  echo "build-ui: frontend/bundle is stale: built from sources ${committed:-(none)}, now $digest" >&2
  echo "build-ui: run scripts/build-ui.sh --commit and commit frontend/bundle" >&2
  exit 1
fi

missing=()
for pkg in rustc-web cargo-web rust-web-src lld-22; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-ui: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "build-ui: wasm build (hydrate)"
env RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-22/bin/wasm-ld \
  /usr/bin/cargo build -p hearth-ui --lib --target wasm32-unknown-unknown --no-default-features \
  --features hydrate --profile wasm-release -Zbuild-std=std,panic_abort \
  --target-dir target/front

wbg_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3}' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $wbg_version"; then
  echo "build-ui: installing wasm-bindgen-cli $wbg_version (once per machine)"
  # No --locked: the CLI's own lockfile pins a crate version this registry does not have.
  cargo install wasm-bindgen-cli --version "=$wbg_version"
fi

out=target/site/pkg
mkdir -p "$out"
wasm-bindgen --target web --out-dir "$out" --out-name hearth_ui --no-typescript \
  target/front/wasm32-unknown-unknown/wasm-release/hearth_ui.wasm

tools=target/ui-tools
if command -v npm >/dev/null 2>&1; then
  if [ ! -x "$tools/node_modules/.bin/wasm-opt" ]; then
    mkdir -p "$tools"
    npm install --silent --prefix "$tools" binaryen@132 >/dev/null 2>&1 || true
  fi
fi
if [ -x "$tools/node_modules/.bin/wasm-opt" ]; then
  # Debian's binaryen 108 breaks the bundle (Table.set errors); npm's 132 does not.
  "$tools/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-reference-types --enable-sign-ext --enable-mutable-globals --enable-multivalue \
    "$out/hearth_ui_bg.wasm" -o "$out/hearth_ui_bg.opt.wasm"
  mv "$out/hearth_ui_bg.opt.wasm" "$out/hearth_ui_bg.wasm"
else
  echo "build-ui: no wasm-opt (npm binaryen@132): the bundle is not size-optimised"
fi

echo "$digest" > "$out/SOURCES"
if [ "$mode" = --commit ]; then
  mkdir -p frontend/bundle
  cp "$out/hearth_ui.js" "$out/hearth_ui_bg.wasm" "$out/SOURCES" frontend/bundle/
  echo "build-ui: frontend/bundle updated (sources $digest)"
elif [ "$mode" = --check ]; then
  # The committed files were built from these sources; whether this build is byte for byte
  # the same depends on the toolchain being the same, so it is reported, not required.
  for f in hearth_ui.js hearth_ui_bg.wasm; do
    if cmp -s "$out/$f" "frontend/bundle/$f"; then
      echo "build-ui: $f rebuilt byte for byte identical to the committed one"
    else
      echo "build-ui: $f rebuilt differs from the committed one (same sources, other toolchain build)"
    fi
  done
fi

raw=$(stat -c %s "$out/hearth_ui_bg.wasm")
gz=$(gzip -9c "$out/hearth_ui_bg.wasm" | wc -c)
js=$(gzip -9c "$out/hearth_ui.js" | wc -c)
echo "build-ui: $out/hearth_ui_bg.wasm $raw bytes, gzip $gz; hearth_ui.js gzip $js"
