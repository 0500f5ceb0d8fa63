#!/usr/bin/env bash
# cluster.sh: one tcpchatd against a network of NODES tcpchatd nodes and one redis-server, on
# this machine's loopback, with the same load: tcpchat-bench spreads its clients over the
# nodes (--servers). Runs alternate between the two setups. For each it reports the bench's
# figures (deliveries/s, latency, lost/reordered) and, from /proc, the CPU time of every
# server process (nodes and Redis summed) per million deliveries, Redis commands per
# message (INFO stats), and redis-server's own CPU and AOF size. Prints a Markdown section
# for bench/RESULTS.md.
#
#   bench/cluster.sh [scenario ...]    default: fanout latency50
#   RUNS=3 NODES=3 WORKERS=<nproc> SKIP_BUILD=0 REDIS_PERSIST=none
#
# REDIS_PERSIST is the cluster's Redis persistence: none (no RDB, no AOF; the default),
# everysec (AOF, appendfsync everysec) or always (AOF, appendfsync always); the AOF goes in
# this run's temporary directory.
#
# Scenarios: fanout is tcpchat-bench's (1,000 clients in one room, 10 senders x 1,000
# messages); latency50 is 1,000 clients in one room and 5 senders at 10 msg/s for 15 s
# (50 msg/s in all).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

RUNS=${RUNS:-3}
NODES=${NODES:-3}
WORKERS=${WORKERS:-$(nproc)}
TCPCHATD=${TCPCHATD:-build/tcpchatd}
BENCH=${BENCH:-build/tcpchat-bench}
SKIP_BUILD=${SKIP_BUILD:-0}
PORT_BASE=${PORT_BASE:-17700}
REDIS_PERSIST=${REDIS_PERSIST:-none}
SCENARIOS=${*:-fanout latency50}

say() { echo "cluster.sh: $*" >&2; }

case $REDIS_PERSIST in
none) redis_persist=(--appendonly no) ;;
everysec) redis_persist=(--appendonly yes --appendfsync everysec) ;;
always) redis_persist=(--appendonly yes --appendfsync always) ;;
*) say "REDIS_PERSIST must be none, everysec or always, not $REDIS_PERSIST"; exit 2 ;;
esac

[ "$SKIP_BUILD" = 1 ] || make -s all >&2
command -v redis-server > /dev/null || { say "needs redis-server (scripts/deps.sh)"; exit 1; }

TMP=$(mktemp -d)
PIDS=()
REDIS_PORT=
REDIS_PID=
stop_all() {
    for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null || true; done
    PIDS=()
}
trap 'stop_all; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; then return 0; fi
        sleep 0.1
    done
    say "nothing listens on port $1"
    return 1
}

# CPU seconds (user + system) of the processes in PIDS so far, or of the one process $1.
cpu_of() {
    local ticks=0 hz p
    hz=$(getconf CLK_TCK)
    [ "$#" -gt 0 ] || set -- "${PIDS[@]}"
    for p in "$@"; do
        # fields 14 and 15 of /proc/PID/stat, after the command name in brackets
        read -r u s < <(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12, $13}')
        ticks=$((ticks + u + s))
    done
    awk -v t="$ticks" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }'
}

# Bytes of the AOF files of the Redis on REDIS_PORT so far (0: none).
aof_bytes() {
    local d=$TMP/redis-$REDIS_PORT/appendonlydir
    if [ -n "$REDIS_PORT" ] && [ -d "$d" ]; then du -sb "$d" | cut -f1; else echo 0; fi
}

redis_commands() {
    [ -n "$REDIS_PORT" ] || { echo 0; return; }
    redis-cli -p "$REDIS_PORT" INFO stats | tr -d '\r' | sed -n 's/^total_commands_processed://p'
}

node_args=(--bind 127.0.0.1 --ip-exempt 127.0.0.0/8 --default-channel '' --max-clients 1000000
    --flood-rate 1000000 --flood-burst 1000000 --sendq 1073741824 --sendq-soft 1048576
    --recvq 1048576 --log-level warn)
[ "$(id -u)" -ne 0 ] || node_args+=(--allow-root)

# Starts setup $1 (single | cluster) from port $2; sets SERVERS_ARG.
start_setup() {
    local setup=$1 port=$2
    if [ "$setup" = single ]; then
        "$TCPCHATD" "${node_args[@]}" --port "$port" --workers "$WORKERS" \
            --data-dir "$TMP/single-$port" < /dev/null > "$TMP/single-$port.log" 2>&1 &
        PIDS+=($!)
        wait_port "$port"
        SERVERS_ARG="127.0.0.1:$port"
        REDIS_PORT=
        REDIS_PID=
        return
    fi
    REDIS_PORT=$port
    mkdir -p "$TMP/redis-$port"
    redis-server --port "$port" --bind 127.0.0.1 --save '' "${redis_persist[@]}" \
        --dir "$TMP/redis-$port" --logfile redis.log > /dev/null 2>&1 &
    REDIS_PID=$!
    PIDS+=($!)
    wait_port "$port"
    # One worker each: NODES nodes share this machine's cores with Redis and the bench.
    local per=$(((WORKERS + NODES - 1) / NODES)) list=""
    for i in $(seq "$NODES"); do
        local p=$((port + i))
        "$TCPCHATD" "${node_args[@]}" --port "$p" --workers "$per" --data-dir "$TMP/node$i-$p" \
            --cluster "redis://127.0.0.1:$port" --node-name "n$i" \
            < /dev/null > "$TMP/node$i-$p.log" 2>&1 &
        PIDS+=($!)
        wait_port "$p"
        list="$list${list:+,}127.0.0.1:$p"
    done
    SERVERS_ARG=$list
}

scenario_args() {
    case $1 in
    fanout) echo "--scenario fanout" ;;
    latency50) echo "--clients 1000 --channels 1 --senders 5 --rate 10 --duration 15" ;;
    *) say "unknown scenario $1"; exit 2 ;;
    esac
}

RAW=$TMP/raw
: > "$RAW"
port=$PORT_BASE
started=$(date -u '+%Y-%m-%d %H:%M UTC')
for scenario in $SCENARIOS; do
    for run in $(seq "$RUNS"); do
        for k in 0 1; do
            setups=(single cluster)
            setup=${setups[$(((run - 1 + k) % 2))]}
            port=$((port + 10))
            say "$scenario run $run/$RUNS: $setup"
            start_setup "$setup" "$port"
            sleep 1 # the nodes have found each other and loaded the network
            cpu0=$(cpu_of)
            rcpu0=0
            [ -z "$REDIS_PID" ] || rcpu0=$(cpu_of "$REDIS_PID")
            cmd0=$(redis_commands)
            # shellcheck disable=SC2046
            line=$("$BENCH" $(scenario_args "$scenario") --servers "$SERVERS_ARG" --label "$setup" \
                --connect-window 20 --quiet 2> "$TMP/bench.err" | grep '^RESULT ' || true)
            cpu1=$(cpu_of)
            rcpu1=0
            [ -z "$REDIS_PID" ] || rcpu1=$(cpu_of "$REDIS_PID")
            cmd1=$(redis_commands)
            aof=$(aof_bytes)
            stop_all
            [ -n "$line" ] || line="RESULT label=\"$setup\" status=\"failed\""
            sent=$(sed -n 's/.* sent=\([0-9]*\).*/\1/p' <<< "$line")
            echo "$line setup=\"$setup\" scenario_name=\"$scenario\" cpu_all_s=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{printf "%.2f", b-a}') redis_cpu_s=$(awk -v a="$rcpu0" -v b="$rcpu1" 'BEGIN{printf "%.2f", b-a}') redis_cmds=$((cmd1 - cmd0)) aof_bytes=$aof sent_msgs=${sent:-0}" >> "$RAW"
        done
    done
done

python3 - "$RAW" "$started" "$NODES" "$WORKERS" "$REDIS_PERSIST" <<'EOF'
import re, shlex, statistics, sys, subprocess
raw, started, nodes, workers, persist = sys.argv[1:6]
persistence = {
    "none": "no persistence: --save '' --appendonly no",
    "everysec": "persistence AOF every second: --save '' --appendonly yes --appendfsync everysec",
    "always": "persistence AOF always: --save '' --appendonly yes --appendfsync always",
}[persist]
rows = []
for l in open(raw):
    d = {}
    for tok in shlex.split(l[len("RESULT "):]):
        if "=" in tok:
            k, v = tok.split("=", 1)
            d[k] = v
    rows.append(d)
def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None
def num(d, k):
    try:
        return float(d[k])
    except (KeyError, ValueError):
        return None
cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p' | head -1"],
                     capture_output=True, text=True).stdout.strip()
print("## Cluster: one node against %s nodes and one Redis, REDIS_PERSIST=%s (bench/cluster.sh)"
      % (nodes, persist))
print()
print("- Run %s on %s, %s CPUs; single node --workers %s; each cluster node --workers %d; "
      "one redis-server (%s); tcpchat-bench spreads clients round robin over the "
      "nodes (--servers)." % (started, cpu or "?", subprocess.run(["nproc"], capture_output=True,
      text=True).stdout.strip(), workers, (int(workers) + int(nodes) - 1) // int(nodes),
      persistence))
print("- CPU is every server process's user + system time over the whole bench run (connect, "
      "join, send), nodes and Redis summed, from /proc; medians of the runs.")
print()
print("| scenario | setup | runs ok | deliveries/s | p50 ms | p99 ms | lost | reordered | "
      "server CPU s per M deliveries | Redis commands per message |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for sc in dict.fromkeys(r.get("scenario_name") for r in rows):
    for setup in ("single", "cluster"):
        rs = [r for r in rows if r.get("scenario_name") == sc and r.get("setup") == setup]
        ok = [r for r in rs if r.get("status") == "ok"]
        def cpu_per_m(r):
            d = num(r, "delivered")
            c = num(r, "cpu_all_s")
            return c / (d / 1e6) if d and c is not None else None
        def cmds(r):
            s = num(r, "sent_msgs")
            c = num(r, "redis_cmds")
            return c / s if s and c is not None else None
        vals = [med(num(r, k) for r in ok) for k in
                ("deliveries_per_s", "lat_p50_ms", "lat_p99_ms", "lost", "reordered")]
        cpm = med(cpu_per_m(r) for r in ok)
        cpc = med(cmds(r) for r in ok) if setup == "cluster" else None
        f = lambda v, d=2: "-" if v is None else ("%.*f" % (d, v))  # noqa: E731
        print("| %s | %s | %d/%d | %s | %s | %s | %s | %s | %s | %s |" % (
            sc, "1 node" if setup == "single" else "%s nodes + Redis" % nodes, len(ok), len(rs),
            f(vals[0], 0), f(vals[1]), f(vals[2]), f(vals[3], 0), f(vals[4], 0), f(cpm), f(cpc)))
print()
for sc in dict.fromkeys(r.get("scenario_name") for r in rows):
    rs = [r for r in rows if r.get("scenario_name") == sc and r.get("setup") == "cluster"]
    rc = med(num(r, "redis_cpu_s") for r in rs)
    a = med(num(r, "aof_bytes") for r in rs)
    print("- %s, cluster: redis-server's own CPU %s s per run (part of the server CPU above)%s "
          "(medians)" % (sc, "-" if rc is None else "%.2f" % rc,
                         "" if persist == "none" or a is None else
                         "; AOF at the end of a run %.1f MB" % (a / 1e6)))
print()
print("Raw RESULT lines:")
print()
print("```")
for l in open(raw):
    print(l.rstrip("\n"))
print("```")
EOF
