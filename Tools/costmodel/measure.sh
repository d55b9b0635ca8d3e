#!/usr/bin/env bash
# Counts the calibration plans on QEMU's Cortex-M4F and M7 and refits the cost model's rates:
#
#   Tools/costmodel/measure.sh [OUT_DIR]      (default /tmp/halfstep-costmodel)
#
# Plans: the digits MLP (batch 32, momentum 0.9, fp16 updates), the digits CNN (batch 8, every layer
# trained; and the same with --conv-panels on) and MobileNetV2's --fit plan for 256 KiB / 1 MiB.
# Each runs `halfstep validate --qemu --json` on mps2-an386 (M4F) and mps2-an500 (M7); then
# Tools/costmodel/fit.py prints the rate tables for CostModel.swift and each plan's residual.
# Needs qemu-system-arm, and numpy and scipy for the fit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-/tmp/halfstep-costmodel}"
mkdir -p "$out"
cd "$root"
swift build -c release --product halfstep >&2
H=.build/release/halfstep
D=Tools/examples/digits C=Tools/examples/digits-cnn M=Tools/examples/mobilenetv2
$H plan $D/mlp.onnx --batch 32 --momentum 0.9 --update fp16 -o "$out/mlp.hsplan" >/dev/null
$H plan $C/model.onnx --batch 8 --train all -o "$out/cnn.hsplan" >/dev/null
$H plan $C/model.onnx --batch 8 --train all --conv-panels on -o "$out/cnn-panels.hsplan" >/dev/null
$H plan $M/model.onnx --batch 1 --fit --budget sram=256KiB,flash=1MiB -o "$out/mobilenetv2.hsplan" >/dev/null 2>&1
m4f=() m7=()
for plan in mlp cnn cnn-panels mobilenetv2; do
  if [ "$plan" = mobilenetv2 ]; then x=$M/batch-x.npy y=$M/batch-y.npy steps=2; else x=$D/shifted-train-x.npy y=$D/shifted-train-y.npy steps=3; fi
  for board in mps2-an386 mps2-an500; do
    echo "counting $plan on $board..." >&2
    $H validate "$out/$plan.hsplan" --target $board --inputs $x --labels $y --steps $steps --qemu --json > "$out/$plan-$board.json"
    if [ $board = mps2-an386 ]; then m4f+=("$out/$plan-$board.json"); else m7+=("$out/$plan-$board.json"); fi
  done
done
python3 Tools/costmodel/fit.py "$(IFS=,; echo "${m4f[*]}")" "$(IFS=,; echo "${m7[*]}")"
