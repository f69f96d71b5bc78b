# Sourced by setup.sh and test.sh: find a cargo new enough for a crate, or say exactly what to do.
#   kaspix_find_cargo CRATE_DIR/Cargo.toml   prints the cargo to use (exit 0) or explains (exit 1)
# Candidates, in order: $CARGO, rustup's ~/.cargo/bin/cargo, the cargo on PATH (e.g. Debian's).

kaspix_version_at_least() {  # kaspix_version_at_least FOUND REQUIRED  (dotted versions)
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

kaspix_find_cargo() {
  local manifest="$1" required found=() candidate version
  required=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$manifest" | head -n1)
  required=${required:-1.0}
  for candidate in "${CARGO:-}" "$HOME/.cargo/bin/cargo" "$(command -v cargo 2>/dev/null || true)"; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    version=$("$candidate" --version 2>/dev/null | awk '{print $2}')
    version=${version%%-*}
    if [ -n "$version" ] && kaspix_version_at_least "$version" "$required"; then
      echo "$candidate"
      return 0
    fi
    found+=("$candidate ${version:-(no version)}")
  done
  {
    echo "error: $(dirname "$manifest") needs Rust $required or newer (its Cargo.toml: rust-version = \"$required\")."
    if [ ${#found[@]} -gt 0 ]; then
      echo "  found only: ${found[*]}"
    else
      echo "  found no cargo at all"
    fi
    echo "  Debian 12 ships cargo 1.65, too old for this crate. Install a current toolchain with rustup"
    echo "  (it downloads from the Rust project's servers, so it needs network access there), then rerun;"
    echo "  or point CARGO=/path/to/cargo at a new enough one."
  } >&2
  return 1
}
