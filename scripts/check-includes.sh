#!/usr/bin/env bash
# Fails on an #include that runs against the pipeline (DESIGN.md, STYLE.md rule 3):
# util -> token -> rewrite | http -> classify -> store -> report -> cli.
set -euo pipefail
cd "$(dirname "$0")/.."
rank() {
  case "$1" in
    util) echo 0 ;; token) echo 1 ;; rewrite|http) echo 2 ;; classify) echo 3 ;;
    store) echo 4 ;; report) echo 5 ;; cli) echo 6 ;; *) echo -1 ;;
  esac
}
out=$(for f in $(ls src/*/*.[ch] 2>/dev/null); do
  mod=$(echo "$f" | cut -d/ -f2)
  r=$(rank "$mod")
  while IFS= read -r inc; do
    dep=$(echo "$inc" | sed -E 's/.*#include "([a-z]+)\/.*/\1/')
    [ "$dep" = "$inc" ] && continue
    [ "$dep" = "$mod" ] && continue
    d=$(rank "$dep")
    if [ "$d" -lt 0 ] || [ "$d" -ge "$r" ]; then
      echo "$f: includes $dep/, which is not above $mod/ in the pipeline"
    fi
  done < <(grep -E '^#include "[a-z]+/' "$f" || true)
done | sort -u)
[ -z "$out" ] && exit 0
echo "$out" >&2
exit 1
