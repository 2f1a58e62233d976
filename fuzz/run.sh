#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and exits non-zero on a crash.
#
#   fuzz/run.sh [seconds per target, default 60] [target...]
#
# Stable toolchain only: instead of cargo-fuzz (whose default address
# sanitizer needs nightly), this builds the targets with plain cargo and the
# coverage flags cargo-fuzz itself passes (SanitizerCoverage through LLVM's
# sancov pass, all stable -C options), linked against libFuzzer from the
# libfuzzer-sys crate (built from source, needs a C++ compiler). Rust's own
# checks (bounds, overflow, debug assertions) are what catch bugs here.
# Crashing inputs land in fuzz/artifacts/<target>/; the seed corpus is made
# from compat/cases into fuzz/corpus/<target>/ (which libFuzzer grows).
set -euo pipefail
cd "$(dirname "$0")"

secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse_request command_args)

# What the build needs: a C++ compiler for libFuzzer, python3 for the corpus.
need=()
command -v c++ >/dev/null || need+=(g++)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  echo "fuzz: installing ${need[*]}"
  apt-get update -qq && apt-get install -y -qq "${need[@]}"
fi

# Its own target directory: other RUSTFLAGS would rebuild the main one.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}-fuzz"
host="$(rustc -vV | sed -n 's/^host: //p')"
# An explicit --target keeps these flags off build scripts and proc macros.
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 -Cdebug-assertions -Coverflow-checks"
start=$(date +%s)
cargo build --release --target "$host" $(printf -- '--bin %s ' "${targets[@]}")
echo "fuzz: built in $(( $(date +%s) - start )) s"

failed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  python3 gen_corpus.py "corpus/$t" >/dev/null
  echo "fuzz: $t for ${secs} s"
  if ! "$CARGO_TARGET_DIR/$host/release/$t" "corpus/$t" \
      -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
      >"artifacts/$t.log" 2>&1; then
    failed+=("$t")
    tail -n 40 "artifacts/$t.log"
    echo "fuzz: $t FAILED; reproduce with: $CARGO_TARGET_DIR/$host/release/$t artifacts/$t/<crash file>"
  else
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done)' "artifacts/$t.log" || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, no crash"
