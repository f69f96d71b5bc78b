#!/usr/bin/env bash
# The whole test suite: Rust unit tests; each package installed alone (tox) running its own pytest
# suite; then, in the development environment, the tests marked `integration`, which need several
# packages together (they skip in the single-package environments). `pytest` alone runs everything.
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
echo "== pytest -m integration (packages together)"
.venv/bin/python -m pytest -m integration "$@"
