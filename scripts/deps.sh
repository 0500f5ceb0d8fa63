#!/usr/bin/env bash
# Installs what tcpchat needs to build and test, from Debian, when anything is missing.
# Runs apt-get as root, or through sudo for a normal user. Safe to run again.
set -euo pipefail
pkgs=(build-essential pkg-config libreadline-dev libncurses-dev uthash-dev libcmocka-dev python3-pytest tmux clang-format
      clang libclang-rt-14-dev libinih-dev libsodium-dev libssl-dev libsqlite3-dev openssl irssi weechat-headless ii
      clang-tidy cppcheck valgrind procps mount redis-server libhiredis-dev libsystemd-dev mandoc
      libwslay-dev libhttp-parser-dev python3-websockets chromium chromium-driver python3-selenium
      python3-prometheus-client debhelper dpkg-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
