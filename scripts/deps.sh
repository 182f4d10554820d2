#!/usr/bin/env bash
# Installs the Debian packages trueopen builds, tests and benchmarks with.
# Run as root on Debian 12; does nothing when everything is present.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang clang-format libclang-rt-14-dev
      libsodium-dev libsqlite3-dev sqlite3 libjansson-dev libmilter-dev
      libpcre2-dev libhyperscan-dev libcurl4-openssl-dev libgmime-3.0-dev
      nginx wrk postfix swaks valgrind curl python3 iproute2 bc)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "deps: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "deps: installing ${missing[*]}" >&2
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
