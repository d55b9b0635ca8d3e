#!/usr/bin/env bash
# A small CNN at one batch size, HalfStep on the host beside PyTorch CPU fp32 (one thread), in one
# run: SGD lr 0.005 momentum 0.9, every parameter training. MODEL `digits` is the bundled digits CNN
# (Tools/examples/digits-cnn); `strided` is issue 13's shape, two 3x3 convs (the second strided) and
# a Linear layer (Tools/examples/strided-cnn, written by Tools/fixtures/make_strided_cnn.py).
# Runs are interleaved (HalfStep, PyTorch, HalfStep, ...) so a machine shared with other work slows
# both sides alike; each side reports its best run. Wall-clock figures: run on an idle machine.
#
#   Tools/bench/cnn_side_by_side.sh [PYTHON] [BATCH] [STEPS] [ROUNDS] [MODEL]
#
# PYTHON needs torch (default python3); the halfstep binary is $HALFSTEP, by default
# .build/release/halfstep (swift build -c release first).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
python="${1:-python3}" batch="${2:-32}" steps="${3:-2000}" rounds="${4:-3}" model="${5:-digits}"
halfstep="${HALFSTEP:-$root/.build/release/halfstep}"
data="$root/Tools/examples/digits"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
case "$model" in
  digits) onnx="$root/Tools/examples/digits-cnn/model.onnx" torch_model=cnn ;;
  strided) onnx="$root/Tools/examples/strided-cnn/model.onnx" torch_model=strided ;;
  *) echo "MODEL $model: expected digits or strided" >&2; exit 2 ;;
esac
plan="$work/$model-b$batch.hsplan"
"$halfstep" plan "$onnx" --batch "$batch" --train all \
  --optimizer sgd --lr 0.005 --momentum 0.9 -o "$plan" > /dev/null
best_h=0 best_p=0
for _ in $(seq "$rounds"); do
  h=$("$halfstep" train "$plan" --inputs "$data/shifted-train-x.npy" --labels "$data/shifted-train-y.npy" \
        --steps "$steps" --json --quiet | "$python" -c 'import json,sys; print(json.load(sys.stdin)["steps_per_second"])')
  # One PyTorch run per round (its script keeps its best of 3 runs of `steps` steps).
  p=$("$python" "$root/Tools/bench/pytorch_step.py" --model "$torch_model" --batches "$batch" --steps "$steps" \
        | "$python" -c 'import json,sys; print(json.loads(sys.stdin.readline())["steps_per_second"])')
  echo "round: HalfStep $h steps/s, PyTorch $p steps/s" >&2
  best_h=$("$python" -c "print(max($best_h, $h))") best_p=$("$python" -c "print(max($best_p, $p))")
done
"$python" -c "
h, p = $best_h, $best_p
print(f'$model CNN, batch $batch, SGD momentum 0.9, one thread, best of $rounds rounds of $steps steps')
print(f'  HalfStep host (fp16, fp32-master updates)  {h:8.0f} steps/s   ($halfstep)')
print(f'  PyTorch CPU fp32 (torch.set_num_threads(1)) {p:8.0f} steps/s')
print(f'  ratio                                       {h / p:8.2f}x')
"
