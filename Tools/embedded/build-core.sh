#!/usr/bin/env bash
# Builds Sources/HalfStepCore as Embedded Swift for a Cortex-M (armv7em-none-none-eabi) with
# -no-allocations: the proof that the device core stays free of Foundation, classes, existentials
# and heap allocation. Prints the object's size; exits non-zero with the compiler's errors.
#
#   Tools/embedded/build-core.sh [m4f|m7] [OUT_DIR]
set -euo pipefail
cpu="${1:-m7}"
out="${2:-$(mktemp -d)}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
case "$cpu" in
  m4f) cflags=(-Xcc -mcpu=cortex-m4 -Xcc -mfpu=fpv4-sp-d16 -Xcc -mfloat-abi=hard) ;;
  m7)  cflags=(-Xcc -mcpu=cortex-m7 -Xcc -mfpu=fpv5-d16 -Xcc -mfloat-abi=hard) ;;
  *) echo "usage: $0 [m4f|m7] [OUT_DIR]" >&2; exit 2 ;;
esac
mkdir -p "$out"
mapfile -t files < <(find "$root/Sources/HalfStepCore" -name '*.swift' | sort)
swiftc -target armv7em-none-none-eabi -enable-experimental-feature Embedded -no-allocations \
  -wmo -Osize -parse-as-library -module-name HalfStepCore \
  -Xfrontend -disable-stack-protector -Xfrontend -function-sections \
  "${cflags[@]}" \
  -emit-module -emit-module-path "$out/HalfStepCore.swiftmodule" \
  -c "${files[@]}" -o "$out/HalfStepCore.o"
size=$(stat -c %s "$out/HalfStepCore.o")
echo "HalfStepCore: Embedded Swift, armv7em-none-none-eabi ($cpu), -no-allocations: ok ($size bytes of object code and metadata in $out/HalfStepCore.o)"
