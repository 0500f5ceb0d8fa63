#!/usr/bin/env bash
# fuzz/smoke.sh SECONDS TARGET...: runs each libFuzzer target (build/fuzz/fuzz_TARGET) for
# SECONDS from its seed corpus fuzz/corpus/TARGET, all at once, and fails if any of them finds a
# crash, a leak or a timeout. New inputs go to build/fuzz/corpus/TARGET, crash inputs to
# build/fuzz/crash-TARGET-*. Used by `make fuzz-smoke` (CI).
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: fuzz/smoke.sh SECONDS TARGET...}
shift
declare -A pids
for t in "$@"; do
    mkdir -p "build/fuzz/corpus/$t"
    # -timeout: one input running for 10 s is a hang; -rss_limit_mb: memory past 2 GiB is a bug.
    "build/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="build/fuzz/crash-$t-" \
        "build/fuzz/corpus/$t" "fuzz/corpus/$t" >"build/fuzz/smoke-$t.log" 2>&1 &
    pids[$t]=$!
done
failed=0
for t in "$@"; do
    if wait "${pids[$t]}"; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build/fuzz/smoke-$t.log")
        cov=$(grep -o 'cov: [0-9]*' "build/fuzz/smoke-$t.log" | tail -n 1)
        echo "fuzz $t: ok, ${execs:-?} runs in ${secs}s, ${cov:-cov: ?}"
    else
        failed=1
        echo "fuzz $t: FAILED (build/fuzz/smoke-$t.log):"
        grep -A 30 -m 1 -E '^==[0-9]+==ERROR|check failed|ALARM|deadly signal' \
            "build/fuzz/smoke-$t.log" || tail -n 40 "build/fuzz/smoke-$t.log"
    fi
done
exit $failed
