# shellcheck shell=bash
# Shared set-up for tools/test and tools/demo; sourced, never run.
#
# mp_setup: installs what is missing from Debian's packages (apt-get as root,
# or through `sudo -n`); when neither is possible it prints the exact command
# and exits 1. Safe under `set -euo pipefail` and without a terminal (CI).
# mp_configure PRESET / mp_build PRESET [TARGET...]: configure and build
# build/PRESET from CMakePresets.json with Ninja when present, else Makefiles.

mp_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mp_jobs="$(nproc 2>/dev/null || echo 2)"

mp_say() { printf '== %s\n' "$*" >&2; }
mp_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

mp_have() { command -v "$1" >/dev/null 2>&1; }

# True when the Debian package is installed (not merely known or removed).
mp_pkg_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Runs apt-get as root, directly or through non-interactive sudo. stdin is
# /dev/null so that nothing can wait for an answer.
mp_apt() {
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get "$@" </dev/null
  else
    sudo -n env DEBIAN_FRONTEND=noninteractive apt-get "$@" </dev/null
  fi
}

mp_can_apt() {
  mp_have apt-get || return 1
  [ "$(id -u)" -eq 0 ] && return 0
  mp_have sudo && sudo -n true >/dev/null 2>&1
}

mp_setup() {
  local required=() optional=()
  if mp_have dpkg-query; then
    local pkg
    for pkg in libboost-dev libfmt-dev catch2; do
      mp_pkg_installed "$pkg" || required+=("$pkg")
    done
  else
    mp_say "no dpkg-query: not a Debian system, so Boost headers, fmt and Catch2 must already be installed"
  fi
  mp_have cmake || required+=(cmake)
  if [ -z "${CXX:-}" ] && ! mp_have c++ && ! mp_have g++ && ! mp_have clang++; then
    required+=(g++)
  fi
  # Ninja only makes builds faster; Makefiles do the same job.
  mp_have ninja || optional+=(ninja-build)

  local missing=("${required[@]+"${required[@]}"}" "${optional[@]+"${optional[@]}"}")
  if [ "${#missing[@]}" -gt 0 ]; then
    if mp_can_apt; then
      mp_say "installing ${missing[*]}"
      # A fresh container has empty package lists; update only when installing.
      mp_apt update -qq
      if ! mp_apt install -y -qq --no-install-recommends "${missing[@]}"; then
        [ "${#required[@]}" -eq 0 ] || mp_die "apt-get install ${missing[*]} failed"
        mp_say "could not install ${optional[*]}; using Makefiles"
      fi
    elif [ "${#required[@]}" -gt 0 ]; then
      local cmd="apt-get update && apt-get install -y ${missing[*]}"
      [ "$(id -u)" -eq 0 ] || cmd="sudo apt-get update && sudo apt-get install -y ${missing[*]}"
      printf 'Missing packages: %s\nInstall them with:\n\n    %s\n\nthen run %s again.\n' \
        "${required[*]}" "$cmd" "$0" >&2
      exit 1
    fi
  fi

  # CMakePresets.json version 3 needs CMake 3.21 (Debian 12: 3.25, Ubuntu 22.04: 3.22).
  local major minor
  read -r major minor < <(cmake --version | sed -n 's/^cmake version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p') || true
  if [ "${major:-0}" -lt 3 ] || { [ "${major:-0}" -eq 3 ] && [ "${minor:-0}" -lt 21 ]; }; then
    mp_die "CMake >= 3.21 is needed for CMakePresets.json; found $(cmake --version | head -n 1)"
  fi
}

# The generator of an existing build directory must be kept: CMake refuses to
# switch generators in place.
mp_generator() {
  local cache="$mp_root/build/$1/CMakeCache.txt"
  if [ -f "$cache" ]; then
    sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$cache"
  elif mp_have ninja; then
    echo Ninja
  else
    echo "Unix Makefiles"
  fi
}

mp_configure() {
  local preset="$1"
  mp_say "configuring build/$preset (preset $preset)"
  (cd "$mp_root" && cmake --preset "$preset" -G "$(mp_generator "$preset")")
}

mp_build() {
  local preset="$1"; shift
  local targets=()
  local t
  for t in "$@"; do targets+=(--target "$t"); done
  mp_say "building build/$preset ${*:+(targets: $*)}"
  cmake --build "$mp_root/build/$preset" -j "$mp_jobs" "${targets[@]+"${targets[@]}"}"
}

# Runtime options of the sanitizers, also set by the matching test presets in
# CMakePresets.json (keep the two in step). Children that end with _exit skip
# LeakSanitizer's exit-time check, so detect_leaks only judges parents.
mp_sanitizer_env() {
  case "$1" in
    asan-ubsan)
      export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:check_initialization_order=1:strict_init_order=1}"
      export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
      ;;
    tsan)
      export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"
      ;;
  esac
}

# Sanitizer runtimes of GCC 12 / Clang 14 cannot lay out their shadow memory
# when the kernel randomizes mmap with more than 28 bits (Ubuntu 24.04's
# kernels use 32): they crash at start-up. Turning off address randomization
# for the test run is the documented workaround. Prints the wrapper, if any.
mp_sanitizer_wrapper() {
  case "$1" in
    asan-ubsan|tsan) ;;
    *) return 0 ;;
  esac
  local bits
  bits="$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)"
  [ "$bits" -gt 28 ] || return 0
  # Container seccomp profiles may forbid the personality() call setarch makes.
  if mp_have setarch && setarch "$(uname -m)" -R true 2>/dev/null; then
    mp_say "vm.mmap_rnd_bits=$bits: running $1 tests without address randomization (setarch -R)"
    echo "setarch $(uname -m) -R"
  else
    mp_say "vm.mmap_rnd_bits=$bits and no setarch -R: if the sanitizers crash at start-up, run" \
      "sysctl vm.mmap_rnd_bits=28"
  fi
}
