#!/usr/bin/env bash
# Fuzzes every HalfStep parser with libFuzzer (address sanitizer), each for SECONDS:
#   Tools/fuzz/run.sh [SECONDS=60] [OUT_DIR=.build-fuzz]
# Seeds come from Tools/fuzz/corpus/<target>; new inputs go to OUT_DIR/corpus/<target> (not committed);
# a crash leaves OUT_DIR/crash-<target>-* and makes the script exit non-zero. Turn each into a
# regression test under Tests/ before fixing it.
set -uo pipefail
seconds="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
out="${2:-$here/../../.build-fuzz}"
# Always through build.sh: it costs nothing when the sources are unchanged, and rebuilds when they are not.
"$here/build.sh" "$out" >/dev/null || exit 2
status=0
for target in onnx npy plan profile cli; do
  mkdir -p "$out/corpus/$target"
  log="$out/fuzz-$target.log"
  seeds=()
  [ -d "$here/corpus/$target" ] && seeds=("$here/corpus/$target")
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
