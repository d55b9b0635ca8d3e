# A content-addressed cache for builds that the test suite would otherwise repeat: the Embedded
# core object (once per CPU), the firmware's payload-independent objects (once per board) and the
# libFuzzer binary. Sourced by bash (Tools/embedded/build-core.sh, Targets/build-firmware.sh,
# Tools/fuzz/build.sh).
#
# An entry is a directory $HALFSTEP_BUILD_CACHE/KIND-DIGEST, where DIGEST covers everything the
# build reads: its source files (paths and contents), its flags and the compiler's version. A
# change to any of them is a new digest, so an entry is never stale; nothing deletes old entries
# (they are small; `rm -rf .build/halfstep-cache` does). Default: .build/halfstep-cache in the
# repository, so each clone and worktree has its own.
#
# Safe when test processes race: one builds while the others wait on a lock for that key (no
# duplicate work on a 2-core machine), the build writes into a temporary directory that is renamed
# into place only when it succeeded, and a failed build leaves nothing behind.

build_cache_root="${HALFSTEP_BUILD_CACHE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.build/halfstep-cache}"

# cache_digest ROOT FILE... -- EXTRA...: 24 hex digits over each FILE's path relative to ROOT and
# its contents, then each EXTRA string (flags, compiler version).
cache_digest() {
  local root="$1"; shift
  local -a files=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do files+=("${1#"$root"/}"); shift; done
  [ "${1:-}" = "--" ] && shift
  { (cd "$root" && sha256sum -- "${files[@]}"); printf '%s\n' "$@"; } | sha256sum | cut -c1-24
}

# swiftc_version: the compiler's identity, part of every digest.
swiftc_version() { swiftc --version 2>&1 | head -1; }

# cached_build KIND DIGEST COMMAND...: makes sure $build_cache_root/KIND-DIGEST exists, running
# COMMAND... TMPDIR to fill it when it does not. Sets cached_dir to the entry and cache_hit to 1
# when it was already there (0 when this call built it). Returns COMMAND's status when it fails.
cached_build() {
  local kind="$1" digest="$2"; shift 2
  cached_dir="$build_cache_root/$kind-$digest"
  cache_hit=1
  [ -d "$cached_dir" ] && return 0
  mkdir -p "$build_cache_root"
  local lock="$build_cache_root/.lock-$kind-$digest" status=0
  {
    flock 9
    if [ -d "$cached_dir" ]; then
      : # another process built it while this one waited
    else
      cache_hit=0
      local tmp
      tmp=$(mktemp -d "$build_cache_root/.tmp-$kind-XXXXXX")
      # The build runs with errexit on in a subshell of its own (inside `if` or `||` bash would
      # ignore errexit in it): its first failing command fails it.
      local errexit=0
      [[ $- == *e* ]] && errexit=1
      set +e
      (set -e; "$@" "$tmp")
      status=$?
      [ $errexit = 1 ] && set -e
      if [ $status = 0 ]; then
        mv -T "$tmp" "$cached_dir" 2>/dev/null || rm -rf "$tmp"   # lost a race without the lock: same contents
      else
        rm -rf "$tmp"
      fi
    fi
  } 9> "$lock"
  return $status
}
