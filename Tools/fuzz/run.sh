#!/usr/bin/env bash
# Fuzzes every HalfStep parser with libFuzzer (address sanitizer), each for SECONDS:
#   Tools/fuzz/run.sh [SECONDS=60] [OUT_DIR=.build-fuzz]
# Seeds come from Tools/fuzz/corpus/<target> (plan-raw shares plan's); new inputs go to
# OUT_DIR/corpus/<target> (not committed); a crash leaves OUT_DIR/crash-<target>-* and makes the
# script exit non-zero. Turn each into a regression test under Tests/ before fixing it.
#
# Two plan targets: `plan` reseals each input's CRC before loading it, so mutations reach the
# section, tensor and op checks (and `inspect` and a training step when they pass); `plan-raw`
# loads the bytes as they come, so it fuzzes the header and the CRC check itself.
set -uo pipefail
seconds="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
out="${2:-$here/../../.build-fuzz}"
# Always through build.sh: it costs nothing when the sources are unchanged, and rebuilds when they are not.
"$here/build.sh" "$out" >/dev/null || exit 2
status=0
for target in onnx npy plan plan-raw profile cli; do
  mkdir -p "$out/corpus/$target"
  log="$out/fuzz-$target.log"
  seeds=()
  corpus="$target"
  [ "$target" = plan-raw ] && corpus=plan
  [ -d "$here/corpus/$corpus" ] && seeds=("$here/corpus/$corpus")
  HALFSTEP_FUZZ_TARGET=$target "$out/halfstep-fuzz" "$out/corpus/$target" "${seeds[@]}" \
    -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 -artifact_prefix="$out/crash-$target-" >"$log" 2>&1
  rc=$?
  runs=$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -1)
  if [ $rc -ne 0 ]; then
    echo "$target: FAILED after ${runs:-?} runs (see $log)"
    status=1
  else
    echo "$target: ${runs:-0} runs in ${seconds}s, no crash"
  fi
done
exit $status
