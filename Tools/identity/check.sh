#!/usr/bin/env bash
# Behaviour-identity check: plans the example models over a fixed set of option combinations,
# trains a subset a few steps, and writes one deterministic line per case, so the output of a
# binary built before a refactor can be diffed against one built after it (compare.sh).
#
# usage: Tools/identity/check.sh [HALFSTEP] [OUT]
#          HALFSTEP  the halfstep binary (default: .build/release/halfstep of this checkout)
#          OUT       where to write the result (default: stdout)
#        Tools/identity/check.sh --list     prints the cases and their command lines
#
# Output: '#' comment lines, then one line per case, sorted (LC_ALL=C):
#   name | status | arena | flash | plan-sha | device-digest | export-sha | final
#     status         plan's exit status; when not 0, followed by its first error line on stderr
#     arena, flash   memory.arena_bytes / memory.flash_bytes of `inspect --json` (flash is the file size)
#     plan-sha       sha256 of the whole .hsplan
#     device-digest  plan_digest.py: sha256 of the tensor table, op table, config and data section
#                    (ignores the header and the host-only names section)
#     export-sha     sha256 of the ONNX written by `train --export` ('-' for cases not trained)
#     final          the train summary: final loss, loss scale, overflows, skipped steps, underflows
# Every command runs from the repository root with relative model paths: the plan records the
# model path it was given, so the same relative path must be used on both sides of a comparison.
set -u -o pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

D=Tools/examples/digits/mlp.onnx
C=Tools/examples/digits-cnn/model.onnx
M=Tools/examples/mobilenetv2/model.onnx
# The lever tests' base plans (PlannerLeverTests.base): fp32 master copies, fp32 state, momentum 0.9.
CNN_BASE="--batch 8 --momentum 0.9 --lr 0.005 --state fp32"
MNV2_BASE="--batch 1 --train last:2 --momentum 0.9 --lr 0.005 --state fp32"

# name | model | plan options (word-split) | training: DATA STEPS SEED, or empty
CASES=(
  # digits MLP (64-64-32-10), batch 32 unless given
  "mlp-readme|$D|--batch 32 --train all --optimizer sgd --lr 0.05 --momentum 0.9 --update fp32-master --loss-scale dynamic --budget sram=64KiB,flash=256KiB|digits 30 0"
  "mlp-defaults|$D||"
  "mlp-train-biases|$D|--momentum 0.9 --train biases|"
  "mlp-train-last1|$D|--momentum 0.9 --train last:1|"
  "mlp-train-last2-fp16|$D|--momentum 0.9 --lr 0.05 --train last:2 --update fp16|"
  "mlp-train-layers|$D|--momentum 0.9 --train layers:4.weight,2.bias|"
  "mlp-train-none|$D|--train none|"
  "mlp-update-fp16-stochastic|$D|--update fp16-stochastic --seed 7 --lr 0.05 --momentum 0.9|digits 30 2"
  "mlp-update-fp16-kahan|$D|--update fp16-kahan --lr 0.05 --loss-scale static:1024|digits 30 0"
  "mlp-update-mixed|$D|--update fp16,fp32-master:4.weight,fp32-master:4.bias --momentum 0.9|digits 30 1"
  "mlp-adam-state-fp32|$D|--optimizer adam --state fp32|"
  "mlp-adamw|$D|--optimizer adamw --lr 0.002 --momentum 0.8 --beta2 0.99 --eps 1e-6 --weight-decay 0.01 --update fp16|digits 30 3"
  "mlp-sgd-weight-decay|$D|--momentum 0.9 --weight-decay 0.0005 --state fp32|"
  "mlp-loss-none|$D|--loss-scale none --momentum 0.9|"
  "mlp-loss-dynamic-initial|$D|--loss-scale dynamic:1024 --growth-interval 10 --momentum 0.9|"
  "mlp-accumulate-fp16|$D|--accumulate fp16 --update fp16 --momentum 0.9|digits 30 0"
  "mlp-fuse-updates|$D|--fuse-updates --momentum 0.9 --loss-scale static:1024|"
  "mlp-micro-batch|$D|--micro-batch 8 --momentum 0.9|digits 30 0"
  "mlp-relu-masks-last1|$D|--train last:1 --relu-masks|"
  "mlp-train-channels|$D|--train-channels 0.5 --momentum 0.9|"
  "mlp-target-nrf52840|$D|--target nrf52840 --reserve sram=24KiB,flash=128KiB --batch 16 --momentum 0.9|"
  "mlp-refused-over-budget|$D|--budget sram=16KiB|"
  "mlp-refused-loss-scale|$D|--loss-scale static:0|"
  # digits CNN (conv1+bn1, dw, pw, expand, fc), batch 8
  "cnn-base|$C|$CNN_BASE|digits 10 0"
  "cnn-last2-channels-half|$C|$CNN_BASE --train last:2 --train-channels 0.5|"
  "cnn-fuse-updates|$C|$CNN_BASE --fuse-updates --loss-scale static:1024|digits 10 1"
  "cnn-fold-batchnorm|$C|$CNN_BASE --fold-batchnorm|"
  "cnn-biases-relu-masks|$C|$CNN_BASE --train biases --relu-masks|"
  "cnn-recompute|$C|$CNN_BASE --recompute|"
  "cnn-micro-batch|$C|--batch 32 --micro-batch 4 --momentum 0.9 --lr 0.005 --state fp32|digits 5 0"
  "cnn-adam-kahan|$C|--batch 8 --momentum 0.9 --state fp32 --optimizer adam --lr 0.001 --update fp16-kahan|digits 10 0"
  "cnn-last1-stochastic|$C|$CNN_BASE --train last:1 --update fp16-stochastic --seed 3|"
  "cnn-all-levers|$C|--batch 8 --train last:3 --fuse-updates --relu-masks --recompute --fold-batchnorm --train-channels 0.25 --update fp16-stochastic --optimizer adam --state fp16|"
  "cnn-refused-accumulate-fp16|$C|$CNN_BASE --accumulate fp16|"
  "cnn-refused-fuse-micro-batch|$C|--batch 8 --fuse-updates --micro-batch 4|"
  "cnn-fit-6KiB|$C|--batch 8 --momentum 0.9 --fit --budget sram=6KiB,flash=1MiB|digits 10 0"
  "cnn-refused-fit-1KiB|$C|--batch 8 --momentum 0.9 --fit --budget sram=1KiB,flash=1MiB|"
  # MobileNetV2 (width 0.35, 96x96, 10 classes), batch 1
  "mnv2-last2|$M|$MNV2_BASE|mnv2 2 0"
  "mnv2-last2-fold-batchnorm|$M|$MNV2_BASE --fold-batchnorm|"
  "mnv2-last1-fuse-masks-fp16|$M|--batch 1 --train last:1 --fuse-updates --relu-masks --update fp16 --momentum 0.9|mnv2 2 1"
  "mnv2-biases-adamw|$M|--batch 1 --train biases --optimizer adamw --weight-decay 0.01|mnv2 2 0"
  "mnv2-last3-recompute-channels|$M|--batch 1 --train last:3 --recompute --train-channels 0.5 --fold-batchnorm|"
  "mnv2-fit-256KiB|$M|--batch 1 --fit --budget sram=256KiB,flash=1MiB|mnv2 2 0"
)

# Training data by key.
data_args() {
  case "$1" in
    digits) echo "--inputs Tools/examples/digits/shifted-train-x.npy --labels Tools/examples/digits/shifted-train-y.npy" ;;
    mnv2) echo "--inputs Tools/examples/mobilenetv2/batch-x.npy --labels Tools/examples/mobilenetv2/batch-y.npy" ;;
    *) echo "check.sh: unknown data key $1" >&2; exit 2 ;;
  esac
}

if [[ "${1:-}" == "--list" ]]; then
  for c in "${CASES[@]}"; do
    IFS='|' read -r name model opts train <<<"$c"
    echo "$name: halfstep plan $model $opts -o $name.hsplan"
    if [[ -n "$train" ]]; then
      read -r key steps seed <<<"$train"
      echo "$name:   halfstep train $name.hsplan $(data_args "$key") --steps $steps --seed $seed --export $name.onnx"
    fi
  done
  exit 0
fi
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0; fi

bin=${1:-$root/.build/release/halfstep}
out=${2:-/dev/stdout}
[[ "$bin" == /* ]] || bin="$PWD/$bin"
[[ "$out" == /* || "$out" == /dev/stdout ]] || out="$PWD/$out"
[[ -x "$bin" ]] || { echo "check.sh: $bin is not an executable" >&2; exit 2; }
command -v python3 >/dev/null || { echo "check.sh: needs python3" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/halfstep-identity.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$root"

# One line of free text, safe for the table: no '|', the temporary directory named $TMP.
clean() { tr -d '\r' | sed -e "s#$tmp#\$TMP#g" -e 's/|/\//g' -e 's/[[:space:]]*$//'; }
# The first error line a command wrote to stderr (progress lines skipped), else its first line.
first_error() { { grep -m1 -E '^halfstep|error' "$1" || head -n1 "$1"; } | clean; }

started=$SECONDS
lines=()
for c in "${CASES[@]}"; do
  IFS='|' read -r name model opts train <<<"$c"
  plan="$tmp/$name.hsplan"
  t0=$SECONDS
  # shellcheck disable=SC2086  # the options are meant to split into words
  timeout 600 "$bin" plan "$model" $opts -o "$plan" >"$tmp/plan.out" 2>"$tmp/plan.err"
  rc=$?
  status="$rc"
  arena=- flash=- plansha=- device=- exportsha=- final=-
  if [[ $rc -ne 0 ]]; then
    status="$rc $(first_error "$tmp/plan.err")"
  fi
  if [[ $rc -eq 0 && -f "$plan" ]]; then
    plansha=$(sha256sum "$plan" | cut -d' ' -f1)
    device=$(python3 "$here/plan_digest.py" "$plan" 2>"$tmp/digest.err") || device="error: $(head -n1 "$tmp/digest.err" | clean)"
    if "$bin" inspect "$plan" --json >"$tmp/inspect.json" 2>"$tmp/inspect.err"; then
      read -r arena flash < <(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["memory"]; print(m["arena_bytes"], m["flash_bytes"])' "$tmp/inspect.json")
    else
      arena="inspect-failed: $(first_error "$tmp/inspect.err")"
    fi
    if [[ -n "$train" ]]; then
      read -r key steps seed <<<"$train"
      onnx="$tmp/$name.onnx"
      # shellcheck disable=SC2046
      timeout 600 "$bin" train "$plan" $(data_args "$key") --steps "$steps" --seed "$seed" --export "$onnx" --json --quiet \
        >"$tmp/train.json" 2>"$tmp/train.err"
      trc=$?
      if [[ $trc -eq 0 && -f "$onnx" ]]; then
        exportsha=$(sha256sum "$onnx" | cut -d' ' -f1)
        final=$(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print("steps=%s loss=%r scale=%r overflows=%s skipped=%s underflows=%s/%s" % (s["steps"], s["final_loss"], s["final_loss_scale"],
      s["overflows"], s["skipped_steps"], s["update_underflows"], s["nonzero_updates"]))' "$tmp/train.json" 2>&1 | clean)
      else
        exportsha="train-failed $trc"
        final=$(first_error "$tmp/train.err")
      fi
    fi
  fi
  lines+=("$name | $status | $arena | $flash | $plansha | $device | $exportsha | $final")
  echo "check.sh: $name: status $rc$([[ -n "$train" ]] && echo ", trained") ($((SECONDS - t0)) s)" >&2
done

{
  echo "# halfstep identity check: name | status | arena | flash | plan-sha | device-digest | export-sha | final"
  echo "# ${#CASES[@]} cases; compare two outputs with Tools/identity/compare.sh BASE NEW"
  printf '%s\n' "${lines[@]}" | sort
} >"$out"
echo "check.sh: ${#CASES[@]} cases in $((SECONDS - started)) s -> $out" >&2
