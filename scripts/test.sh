#!/usr/bin/env bash
# The whole test suite: Rust unit tests, every package's pytest suite, and each plugin installed alone.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/rust_toolchain.sh
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 KASPIX_PLAIN_PROGRESS=1

if [ -f kaspix-esn-rs/Cargo.toml ]; then
  CARGO_BIN=$(kaspix_find_cargo kaspix-esn-rs/Cargo.toml)
  export PATH="$(dirname "$CARGO_BIN"):$PATH"
  echo "== cargo test (kaspix-esn-rs)"
  (cd kaspix-esn-rs && cargo test --release --quiet)
fi
echo "== each package installed alone (tox)"
.venv/bin/tox run-parallel --parallel 2 --parallel-no-spinner -q
echo "== pytest (all packages)"
.venv/bin/python -m pytest "$@"
