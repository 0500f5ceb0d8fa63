#!/usr/bin/env bash
# deb.sh [OUTDIR]: builds the Debian package (debian/, `dpkg-buildpackage -b -us -uc`) and
# puts the .deb files in OUTDIR (default build/deb). dpkg-buildpackage writes into debian/
# and into the source's parent directory, so it runs on a copy of the tree in a temporary
# directory under OUTDIR: the checkout is left as it was. The copy is the working tree as it
# is (uncommitted changes included; ignored files such as build/ left out).
set -euo pipefail
out=${1:-build/deb}
cd "$(dirname "$0")/.."
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(dpkg-parsechangelog -S Version)
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/tcpchat-$version
mkdir "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked and untracked files, ignored ones and deleted ones left out
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar -cf - --null -T - | tar -xf - -C "$src"
else
    tar -cf - --exclude=./build --exclude=./.git . | tar -xf - -C "$src"
fi
(cd "$src" && dpkg-buildpackage -b -us -uc)
rm -f "$out"/tcpchat*_"$version"_*.deb
mv "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out"/
ls "$out"/tcpchat_"$version"_*.deb
