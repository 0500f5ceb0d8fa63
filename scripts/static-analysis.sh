#!/usr/bin/env bash
# static-analysis: clang-tidy (checks chosen in .clang-tidy) and cppcheck (global exceptions in
# .cppcheck-suppressions, the rest inline where they occur) over every C file in src/. Any
# finding fails. `make lint` runs it, and so does CI. Needs clang-tidy and cppcheck
# (scripts/deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/lint
mkdir -p "$out"
mapfile -t srcs < <(find src -name '*.c' | sort)
jobs=$(nproc 2>/dev/null || echo 2)

# The Makefile's flags, less warnings and sanitizers. uthash is a system header here: findings
# inside its macros are uthash's, not ours.
pkg_flags=$(pkg-config --cflags inih libsodium openssl 2>/dev/null || true)
flags="-std=c11 -D_GNU_SOURCE -pthread -Isrc -Isrc/server -isystem /usr/include/uthash $pkg_flags"

# compile_commands.json for clang-tidy, one entry per file.
{
    echo "["
    sep=""
    for f in "${srcs[@]}"; do
        printf '%s  {"directory": "%s", "file": "%s", "command": "cc %s -c %s"}' \
            "$sep" "$PWD" "$f" "$flags" "$f"
        sep=$',\n'
    done
    printf '\n]\n'
} >"$out/compile_commands.json"

status=0
echo "== clang-tidy ($(clang-tidy --version | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -n 1))"
if ! printf '%s\n' "${srcs[@]}" |
    xargs -P "$jobs" -n 4 clang-tidy -p "$out" --quiet >"$out/clang-tidy.log" 2>"$out/clang-tidy.err"; then
    status=1
fi
# Only the findings (clang-tidy also prints "N warnings generated" on stderr).
grep -E '(warning|error):' "$out/clang-tidy.log" "$out/clang-tidy.err" --no-filename -A 3 || true
if [ $status -ne 0 ]; then
    echo "clang-tidy: findings above (or see $out/clang-tidy.err)"
else
    echo "clang-tidy: no findings in ${#srcs[@]} files"
fi

echo "== cppcheck ($(cppcheck --version))"
# uthash is not given to cppcheck: through its HASH_ITER (DECLTYPE casts) cppcheck reports every
# element iterated as uninitialised. The model below is the loop HASH_ITER is, for cppcheck's
# eyes only; the other HASH_* macros read as calls.
printf '%s\n' '#define HASH_ITER(hh, head, el, tmp) for ((el) = (head), (tmp) = NULL; (el); (el) = (tmp))' \
    >"$out/uthash-model.h"
# --inline-suppr: a one-off exception is a "cppcheck-suppress ID" comment, with its reason, on
# the line before the finding.
if cppcheck --enable=warning,performance,portability --std=c11 --error-exitcode=1 --inline-suppr \
    --suppressions-list=.cppcheck-suppressions -D_GNU_SOURCE -D__linux__ -Isrc \
    --include="$out/uthash-model.h" --quiet -j "$jobs" --cppcheck-build-dir="$out" \
    --template='{file}:{line}: {severity}: {message} [{id}]' "${srcs[@]}"; then
    echo "cppcheck: no findings in ${#srcs[@]} files"
else
    echo "cppcheck: findings above"
    status=1
fi
exit $status
