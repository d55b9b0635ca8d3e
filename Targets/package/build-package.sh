#!/usr/bin/env bash
# Builds the library half of `halfstep package`: HalfStep's core and C interface as a static
# library for one Cortex-M CPU, and the header.
#
#   Targets/package/build-package.sh CPU OUT_DIR
#
# CPU is one of Targets/embedded-flags.env's EMBEDDED_CPUS. Writes OUT_DIR/lib/libhalfstep.a (the
# Embedded Swift core, -no-allocations, plus support.c's weak run-time helpers) and
# OUT_DIR/include/halfstep.h, then prints one line per archive member: "member text data bss".
# Toolchain: swiftc, clang and llvm-ar from the Swift toolchain.
set -euo pipefail
cpu="${1:?cpu}"; out="${2:?out dir}"
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=../../Tools/embedded/build-core.sh
source "$here/../../Tools/embedded/build-core.sh"
embedded_core "$cpu"
mkdir -p "$out/lib" "$out/include"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$embedded_core_dir/HalfStepCore.o" "$work/halfstep_core.o"
clang "${embedded_clang[@]}" -O2 -c "$here/support.c" -o "$work/halfstep_support.o"
rm -f "$out/lib/libhalfstep.a"
llvm-ar rcs "$out/lib/libhalfstep.a" "$work/halfstep_core.o" "$work/halfstep_support.o"
cp "$embedded_root/Sources/HalfStepCore/CAPI/halfstep.h" "$out/include/halfstep.h"
for member in halfstep_core.o halfstep_support.o; do
  declare -A size=([text]=0 [data]=0 [bss]=0)
  while read -r _ name hex _ _ type; do
    case "$name" in
      .text*|.rodata*|.ARM.exidx*) size[text]=$(( ${size[text]} + 16#$hex )) ;;
      .data*) size[data]=$(( ${size[data]} + 16#$hex )) ;;
      .bss*) size[bss]=$(( ${size[bss]} + 16#$hex )) ;;
    esac
  done < <(llvm-objdump -h "$work/$member" | tail -n +6)
  echo "$member ${size[text]} ${size[data]} ${size[bss]}"
  unset size
done
