#!/usr/bin/env bash
# Compares two outputs of Tools/identity/check.sh and prints, for every case that differs, which
# columns differ and their two values. Exit status: 0 identical, 1 differences, 2 usage error.
#
# usage: Tools/identity/compare.sh BASE NEW
#
# A case whose device-digest, arena, status, export-sha and final are equal but whose plan-sha and
# flash differ is flagged "host-only": the bytes the device reads are unchanged (the header and the
# names section moved, e.g. a host-only section was added).
set -u -o pipefail
export LC_ALL=C
if [[ $# -ne 2 || ! -r "$1" || ! -r "$2" ]]; then
  echo "usage: compare.sh BASE NEW (two readable check.sh outputs)" >&2
  exit 2
fi

awk -F' [|] ' '
  BEGIN { split("name status arena flash plan-sha device-digest export-sha final", col, " ") }
  /^#/ || NF == 0 { next }
  FNR == NR { base[$1] = $0; order[++n] = $1; next }
  { new[$1] = $0; if (!($1 in base)) order[++n] = $1 }
  END {
    differ = 0; same = 0
    for (i = 1; i <= n; i++) {
      k = order[i]
      if (!(k in new)) { print k ": only in BASE"; differ++; continue }
      if (!(k in base)) { print k ": only in NEW"; differ++; continue }
      if (base[k] == new[k]) { same++; continue }
      nb = split(base[k], b, / [|] /); nn = split(new[k], m, / [|] /)
      cols = ""; detail = ""; devsame = 1
      for (c = 2; c <= (nb > nn ? nb : nn); c++) {
        if (b[c] != m[c]) {
          name = (c in col) ? col[c] : "column " c
          cols = cols (cols == "" ? "" : ", ") name
          detail = detail "    " name ": " b[c] "  ->  " m[c] "\n"
          if (name != "plan-sha" && name != "flash") devsame = 0
        }
      }
      print k ": " cols (devsame ? "  [host-only: device digest unchanged]" : "")
      printf "%s", detail
      differ++
    }
    printf "%d cases identical, %d differ\n", same, differ
    exit differ > 0 ? 1 : 0
  }
' "$1" "$2"
