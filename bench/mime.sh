#!/usr/bin/env bash
# Our MIME walker (rewrite__mime_parse + transfer decoding) against GMime 3 on the corpus of
# bench/rewrite.sh: MB/s of each, the ratio GMime/ours, decoded-HTML mismatches, heap. Then
# both over the golden files and the rewrite fuzz corpus (duplicates removed) plus two
# messages made here (a 2 MB header block, nesting 2,000 deep): where they disagree,
# GMime's warnings, and whether GMime keeps the bytes of a message it writes back.
# What this decided: docs/rewrite.md, "Why our own MIME walker".
#   MESSAGES=200 ROUNDS=5 SEED=1 bash bench/mime.sh
set -euo pipefail
cd "$(dirname "$0")/.."
B=${TO_BUILD:-build}/mime_bench
if [ ! -x "$B" ]; then
  if pkg-config --exists gmime-3.0; then
    echo "bench/mime.sh: build first (make build)" >&2
    exit 1
  fi
  echo "bench/mime.sh: skipped, gmime-3.0 is not installed (scripts/deps.sh installs it)" >&2
  exit 0
fi
export G_SLICE=always-malloc
"$B" "${MESSAGES:-200}" "${ROUNDS:-5}" "${SEED:-1}"
echo
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# 10,000 header fields, 2 MB: past our header limit (1 MB here), too big for a seed corpus.
awk 'BEGIN { printf "From: a@b.example\r\n"; pad = sprintf("%200s", "");
             for (i = 0; i < 10000; i++) printf "X-Pad-%d: %s\r\n", i, pad;
             printf "Content-Type: text/html\r\n\r\n<p>x</p>\r\n" }' > "$T/huge_header.eml"
# Multiparts nested 2,000 deep, past GMime's own nesting limit.
awk 'BEGIN { printf "From: a@b.example\r\nMIME-Version: 1.0\r\n";
             for (i = 0; i < 2000; i++)
               printf "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i;
             printf "Content-Type: text/html\r\n\r\n<a href=\"https://x.example/\">x</a>\r\n";
             for (i = 1999; i >= 0; i--) printf "\r\n--b%d--\r\n", i }' > "$T/deep_nesting_2000.eml"
mapfile -t files < <(sha256sum tests/golden/rewrite/*.eml tests/fuzz/corpus/rewrite/* |
                     awk '!seen[$1]++ { print $2 }')
echo "robustness: ${#files[@]} distinct files (tests/golden/rewrite/*.eml, tests/fuzz/corpus/rewrite/) + 2 made here"
"$B" --compare "${files[@]}" "$T/huge_header.eml" "$T/deep_nesting_2000.eml"
