#!/usr/bin/env bash
# Builds the libFuzzer binary for every HalfStep parser (address sanitizer on):
#   Tools/fuzz/build.sh [OUT_DIR]       -> OUT_DIR/halfstep-fuzz
# Run one parser:  HALFSTEP_FUZZ_TARGET=onnx OUT_DIR/halfstep-fuzz Tools/fuzz/corpus/onnx -max_total_time=60
# Targets: onnx, npy, plan, plan-raw, profile, cli. `plan` reseals every input's CRC before the
# verifier sees it (so mutations reach the op contracts, `inspect` and a training step);
# `plan-raw` keeps the bytes as they are (the header and CRC check). Both read corpus/plan.
#
# The binary is cached by a digest of every source it compiles, the flags and the compiler
# (Tools/build-cache.sh): OUT_DIR/halfstep-fuzz links to the cache entry, and a second build of the
# same inputs (another test run, another OUT_DIR) costs nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/.build-fuzz}"
# shellcheck source=../build-cache.sh
source "$root/Tools/build-cache.sh"
mkdir -p "$out"
flags=(-sanitize=fuzzer,address -parse-as-library -g -O -Xcc -mf16c)
mapfile -t core < <(find "$root/Sources/HalfStepCore" -name '*.swift' | LC_ALL=C sort)
mapfile -t planner < <(find "$root/Sources/HalfStepPlanner" -name '*.swift' | LC_ALL=C sort)
entry=("$root/Tools/fuzz/FuzzMain.swift" "$root/Tools/halfstep/Arguments.swift" "$root/Sources/HalfStepEmulator/Profiles/TargetProfile.swift"
       "$root/Sources/HalfStepEmulator/Profiles/ProfileError.swift")

# build_fuzzer DIR: the three modules and the link, into DIR.
build_fuzzer() {
  local dir="$1"
  swiftc "${flags[@]}" -module-name HalfStepCore -emit-module -emit-module-path "$dir/HalfStepCore.swiftmodule" \
    -wmo -c "${core[@]}" -o "$dir/core.o"
  swiftc "${flags[@]}" -module-name HalfStepPlanner -I "$dir" -emit-module -emit-module-path "$dir/HalfStepPlanner.swiftmodule" \
    -wmo -c "${planner[@]}" -o "$dir/planner.o"
  swiftc "${flags[@]}" -module-name HalfStepFuzz -I "$dir" -wmo -c "${entry[@]}" -o "$dir/fuzz.o"
  swiftc -sanitize=fuzzer,address "$dir/core.o" "$dir/planner.o" "$dir/fuzz.o" -o "$dir/halfstep-fuzz"
}

digest=$(cache_digest "$root" "${core[@]}" "${planner[@]}" "${entry[@]}" -- "${flags[*]}" "$(swiftc_version)")
cached_build fuzz "$digest" build_fuzzer
ln -sfn "$cached_dir/halfstep-fuzz" "$out/halfstep-fuzz"
how="built"
[ "$cache_hit" = 1 ] && how="cached: same sources, flags and compiler"
echo "built $out/halfstep-fuzz ($how)"
