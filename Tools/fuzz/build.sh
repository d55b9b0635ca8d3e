#!/usr/bin/env bash
# Builds the libFuzzer binary for every HalfStep parser (address sanitizer on):
#   Tools/fuzz/build.sh [OUT_DIR]       -> OUT_DIR/halfstep-fuzz
# Run one parser:  HALFSTEP_FUZZ_TARGET=onnx OUT_DIR/halfstep-fuzz Tools/fuzz/corpus/onnx -max_total_time=60
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$root/.build-fuzz}"
mkdir -p "$out"
flags=(-sanitize=fuzzer,address -parse-as-library -g -O -Xcc -mf16c)
core=$(find "$root/Sources/HalfStepCore" -name '*.swift' | sort)
planner=$(find "$root/Sources/HalfStepPlanner" -name '*.swift' | sort)
# shellcheck disable=SC2086
swiftc "${flags[@]}" -module-name HalfStepCore -emit-module -emit-module-path "$out/HalfStepCore.swiftmodule" \
  -wmo -c $core -o "$out/core.o"
# shellcheck disable=SC2086
swiftc "${flags[@]}" -module-name HalfStepPlanner -I "$out" -emit-module -emit-module-path "$out/HalfStepPlanner.swiftmodule" \
  -wmo -c $planner -o "$out/planner.o"
swiftc "${flags[@]}" -module-name HalfStepFuzz -I "$out" -wmo -c "$root/Tools/fuzz/FuzzMain.swift" \
  "$root/Tools/halfstep/Arguments.swift" "$root/Sources/HalfStepEmulator/Profiles/TargetProfile.swift" \
  "$root/Sources/HalfStepEmulator/Profiles/ProfileError.swift" -o "$out/fuzz.o"
swiftc -sanitize=fuzzer,address "$out/core.o" "$out/planner.o" "$out/fuzz.o" -o "$out/halfstep-fuzz"
echo "built $out/halfstep-fuzz"
