#!/usr/bin/env bash
# Set up everything kaspix needs on a Debian machine, idempotently:
#   system packages (ngspice, libngspice0) via apt-get when missing,
#   a virtual environment at .venv with the development tools,
#   the Rust extension kaspix-esn-rs built with maturin (a new enough cargo is checked first),
#   every Python package installed editable.
# Steps already done are skipped quickly (stamps in .venv/.kaspix-stamps).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[setup] %s\n' "$*"; }
source scripts/rust_toolchain.sh

# -- Rust toolchain: checked first, so a missing one is said at once ----------------
if [ -f kaspix-esn-rs/Cargo.toml ]; then
  CARGO_BIN=$(kaspix_find_cargo kaspix-esn-rs/Cargo.toml) || exit 1
  export PATH="$(dirname "$CARGO_BIN"):$PATH"
fi

# -- system packages -----------------------------------------------------------
APT_PACKAGES=(ngspice libngspice0 chromium dataset-fashion-mnist)
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c "import ensurepip, venv" 2>/dev/null || APT_PACKAGES+=(python3-venv)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# -- Python environment ----------------------------------------------------------
[ -x .venv/bin/python ] || { say "creating .venv"; "$PYTHON" -m venv .venv; }
VPY=.venv/bin/python
STAMPS=.venv/.kaspix-stamps
mkdir -p "$STAMPS"

stamp_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }
up_to_date() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }

PY_PACKAGES=(kaspix-core kaspix-spice kaspix-snn kaspix-circuitgen kaspix-cspace examples/kaspix-example-rc)
present=()
for p in "${PY_PACKAGES[@]}"; do [ -f "$p/pyproject.toml" ] && present+=("$p"); done

# Development tools first: maturin builds the Rust extension, which kaspix-cspace depends on.
dev_stamp=$(stamp_of requirements-dev.txt)
if ! up_to_date dev "$dev_stamp"; then
  say "installing development tools (requirements-dev.txt)"
  "$VPY" -m pip install -q --upgrade pip
  "$VPY" -m pip install -q -r requirements-dev.txt
  echo "$dev_stamp" > "$STAMPS/dev"
fi

# -- Rust extension (before the Python packages that need it) ------------------
if [ -f kaspix-esn-rs/Cargo.toml ]; then
  rs_stamp=$(stamp_of $(find kaspix-esn-rs -path kaspix-esn-rs/target -prune -o -type f \( -name '*.rs' -o -name '*.toml' -o -name '*.lock' -o -name '*.py' -o -name '*.pyi' \) -print | sort))
  if ! up_to_date rust "$rs_stamp"; then
    say "building kaspix-esn-rs (maturin develop --release)"
    (cd kaspix-esn-rs && VIRTUAL_ENV="$PWD/../.venv" PATH="$PWD/../.venv/bin:$PATH" maturin develop --release --extras test -q)
    echo "$rs_stamp" > "$STAMPS/rust"
  fi
fi

# -- Python packages ---------------------------------------------------------------
py_stamp=$(stamp_of scripts/setup.sh requirements-dev.txt $(for p in "${present[@]}"; do echo "$p/pyproject.toml"; done))
if ! up_to_date python "$py_stamp"; then
  say "installing Python packages (editable): ${present[*]}"
  args=()
  for p in "${present[@]}"; do
    if [ "$p" = kaspix-core ]; then args+=(-e "kaspix-core[train,serve,test]"); else args+=(-e "$p[test]"); fi
  done
  "$VPY" -m pip install -q "${args[@]}"
  echo "$py_stamp" > "$STAMPS/python"
fi

say "ready: .venv/bin/kaspix plugins"
