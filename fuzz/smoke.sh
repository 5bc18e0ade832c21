#!/usr/bin/env bash
# Fuzz smoke run, for CI: builds the cargo-fuzz targets of tessera-jwt and runs each for a few
# seconds from the seeds in fuzz/seeds/; fails if a target crashes (a panic, a sanitizer
# report, a timeout or running out of memory).
#
#   fuzz/smoke.sh                   # FUZZ_SECONDS=10 per target
#   FUZZ_SECONDS=600 fuzz/smoke.sh  # a longer run; the corpus grows in fuzz/corpus/
#
# Only a stable toolchain is needed: cargo-fuzz passes rustc nightly-only flags (-Z sanitizer,
# coverage instrumentation), which RUSTC_BOOTSTRAP=1 lets stable accept. AddressSanitizer is
# used when the toolchain ships its runtime, and otherwise none (libFuzzer still finds panics).
set -euo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-10}
cargo_fuzz_version=0.13.2
targets=(token jwk)

if ! cargo fuzz --version 2>/dev/null | grep -qF "$cargo_fuzz_version"; then
  echo "installing cargo-fuzz $cargo_fuzz_version"
  cargo install cargo-fuzz --locked --version "$cargo_fuzz_version"
fi

export RUSTC_BOOTSTRAP=1
host=$(rustc -vV | sed -n 's/^host: //p')
sysroot=$(rustc --print sysroot)
if compgen -G "$sysroot/lib/rustlib/$host/lib/librustc-*_rt.asan.a" >/dev/null; then
  sanitizer=address
else
  sanitizer=none
fi
flags=(--sanitizer "$sanitizer" --debug-assertions)

start=$(date +%s)
cargo fuzz build "${flags[@]}"
built=$(date +%s)
echo "built ${targets[*]} (sanitizer: $sanitizer) in $((built - start))s"

for target in "${targets[@]}"; do
  corpus="corpus/$target"
  mkdir -p "$corpus"
  cp seeds/"$target"/* "$corpus"/
  cargo fuzz run "${flags[@]}" "$target" "$corpus" -- \
    -dict="$PWD/$target.dict" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1
done
echo "fuzz smoke run passed: build $((built - start))s, runs $(($(date +%s) - built))s"
