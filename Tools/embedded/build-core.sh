#!/usr/bin/env bash
# Builds Sources/HalfStepCore as Embedded Swift for a Cortex-M (armv7em-none-none-eabi) with
# -no-allocations: the proof that the device core stays free of Foundation, classes, existentials
# and heap allocation. Prints the object's size; exits non-zero with the compiler's errors.
#
#   Tools/embedded/build-core.sh [m4f|m7] [OUT_DIR]
#
# The flags are Targets/embedded-flags.env's. The object and its module are cached by a digest of
# the core's sources, the flags and the compiler (Tools/build-cache.sh), so the firmware builds,
# the tests and CI compile the core once per CPU; OUT_DIR, when given, gets a copy of both.
#
# Sourced (`source Tools/embedded/build-core.sh`), it only defines `embedded_core CPU`, which sets
# embedded_core_dir to the cache entry holding HalfStepCore.o and HalfStepCore.swiftmodule.
set -euo pipefail
embedded_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../../Targets/embedded-flags.env
source "$embedded_root/Targets/embedded-flags.env"
# shellcheck source=../build-cache.sh
source "$embedded_root/Tools/build-cache.sh"

# build_core_into CPU DIR: compiles the core into DIR (cached_build's command).
build_core_into() {
  local -a files
  mapfile -t files < <(find "$embedded_root/Sources/HalfStepCore" -name '*.swift' | LC_ALL=C sort)
  swiftc "${embedded_swift[@]}" -module-name HalfStepCore \
    -emit-module -emit-module-path "$2/HalfStepCore.swiftmodule" \
    -c "${files[@]}" -o "$2/HalfStepCore.o"
}

# embedded_core CPU: the core for CPU, built or found in the cache (see the header).
embedded_core() {
  local cpu="$1"
  embedded_cpu "$cpu" || { echo "unknown CPU '$cpu' (Targets/embedded-flags.env has: $EMBEDDED_CPUS)" >&2; return 2; }
  local -a files
  mapfile -t files < <(find "$embedded_root/Sources/HalfStepCore" -name '*.swift' | LC_ALL=C sort)
  local digest
  digest=$(cache_digest "$embedded_root" "${files[@]}" -- "${embedded_swift[*]}" "$(swiftc_version)")
  cached_build "embedded-core-$cpu" "$digest" build_core_into "$cpu"
  embedded_core_dir="$cached_dir"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  cpu="${1:-m7}"
  case " $EMBEDDED_CPUS " in *" $cpu "*) ;; *) echo "usage: $0 [${EMBEDDED_CPUS// /|}] [OUT_DIR]" >&2; exit 2 ;; esac
  embedded_core "$cpu"
  object="$embedded_core_dir/HalfStepCore.o"
  if [ $# -ge 2 ]; then
    mkdir -p "$2"
    cp -R "$embedded_core_dir/HalfStepCore.o" "$embedded_core_dir/HalfStepCore.swiftmodule" "$2/"
    object="$2/HalfStepCore.o"
  fi
  size=$(stat -c %s "$object")
  how="built"
  [ "$cache_hit" = 1 ] && how="cached: same sources, flags and compiler"
  echo "HalfStepCore: Embedded Swift, armv7em-none-none-eabi ($cpu), -no-allocations: ok ($size bytes of object code and metadata in $object; $how)"
fi
