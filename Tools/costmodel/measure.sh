#!/usr/bin/env bash
# Counts the calibration plans on every QEMU board (Cortex-M4F, M7, M33, M55) and refits the cost
# model's rates:
#
#   Tools/costmodel/measure.sh [OUT_DIR]      (default /tmp/halfstep-costmodel)
#
# Plans: the digits MLP (batch 32, momentum 0.9, fp16 updates), the digits CNN (batch 8, every layer
# trained; and the same with --conv-panels on) and MobileNetV2's --fit plan for 256 KiB / 1 MiB.
# Each runs `halfstep validate --qemu --json` on mps2-an386 (M4F), mps2-an500 (M7), mps2-an505 (M33)
# and mps3-an547 (M55); then Tools/costmodel/fit.py prints the rate tables for CostModel.swift and
# each plan's residual.
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
declare -A core=([mps2-an386]=m4f [mps2-an500]=m7 [mps2-an505]=m33 [mps3-an547]=m55) files=()
for plan in mlp cnn cnn-panels mobilenetv2; do
  if [ "$plan" = mobilenetv2 ]; then x=$M/batch-x.npy y=$M/batch-y.npy steps=2; else x=$D/shifted-train-x.npy y=$D/shifted-train-y.npy steps=3; fi
  for board in mps2-an386 mps2-an500 mps2-an505 mps3-an547; do
    echo "counting $plan on $board..." >&2
    $H validate "$out/$plan.hsplan" --target $board --inputs $x --labels $y --steps $steps --qemu --json > "$out/$plan-$board.json"
    files[${core[$board]}]+="${files[${core[$board]}]:+,}$out/$plan-$board.json"
  done
done
python3 Tools/costmodel/fit.py m4f="${files[m4f]}" m7="${files[m7]}" m33="${files[m33]}" m55="${files[m55]}"
