#!/usr/bin/env bash
# compare.sh: runs tcpchat-bench scenarios against tcpchatd, ngircd and InspIRCd on loopback,
# each server fresh for every run, alternating servers run by run, and writes bench/RESULTS.md
# (medians, ratio tcpchatd / best peer, the machine). Usage and knobs: bench/README.md.
#
#   bench/compare.sh [scenario ...]        default: fanout latency joinstorm
#   RUNS=3 SERVERS="tcpchatd ngircd inspircd" WORKERS=<nproc> OUT=bench/RESULTS.md
#   (add tcpchatd_nohist to SERVERS for tcpchatd with --history off, to see what history costs;
#   add tcpchatd_base, with TCPCHATD_BASE=path/to/an/older/tcpchatd, to compare two builds of
#   tcpchatd side by side, alternating, in one run: a change's before and after; add
#   tcpchatd_ws for the same tcpchatd with the bench's clients on its web listener, IRC over
#   WebSocket, tcpchat-bench --websocket)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

RUNS=${RUNS:-3}
SERVERS=${SERVERS:-"tcpchatd ngircd inspircd"}
WORKERS=${WORKERS:-$(nproc)}
OUT=${OUT:-bench/RESULTS.md}
PORT_BASE=${PORT_BASE:-16700}
TCPCHATD=${TCPCHATD:-build/tcpchatd}
BENCH=${BENCH:-build/tcpchat-bench}
BENCH_ARGS=${BENCH_ARGS:-}
SKIP_BUILD=${SKIP_BUILD:-0}
# NICE: run servers and bench at this nice value (e.g. -10) on a machine busy with other work.
# With autogroup scheduling (kernel.sched_autogroup_enabled=1) a nice value only counts inside
# its session's group, so the script moves into a session of its own and gives that group
# the nice value too.
NICE=${NICE:-}
RUN_PREFIX=()
if [ -n "$NICE" ]; then
    if [ -z "${COMPARE_OWN_SESSION:-}" ] && command -v setsid >/dev/null; then
        COMPARE_OWN_SESSION=1 exec setsid "$0" "$@"
    fi
    [ -w /proc/self/autogroup ] && echo "$NICE" > /proc/self/autogroup 2>/dev/null || true
    RUN_PREFIX=(nice -n "$NICE")
fi
# TCPCHATD_VERSION: how RESULTS.md names the tcpchatd build when TCPCHATD points elsewhere.
# Connections registering at once, per server. ngircd's short accept queue overflows with more
# than about ten (the kernel then resets handshakes it completed with SYN cookies); InspIRCd
# completes registrations on a once-a-second timer, so it needs many at once to connect
# thousands of clients in reasonable time. Connect speed is not among the compared figures.
WINDOW_tcpchatd=${WINDOW_tcpchatd:-50}
WINDOW_tcpchatd_nohist=${WINDOW_tcpchatd_nohist:-50}
WINDOW_tcpchatd_base=${WINDOW_tcpchatd_base:-50}
WINDOW_tcpchatd_ws=${WINDOW_tcpchatd_ws:-50}
TCPCHATD_BASE=${TCPCHATD_BASE:-}
WINDOW_ngircd=${WINDOW_ngircd:-10}
WINDOW_inspircd=${WINDOW_inspircd:-1000}
# Seconds a server gets to start listening, and to exit after SIGTERM.
START_WAIT=10
STOP_WAIT=15

if [ $# -gt 0 ]; then SCENARIOS="$*"; else SCENARIOS="fanout latency joinstorm"; fi
COMMAND="RUNS=$RUNS SERVERS=\"$SERVERS\" WORKERS=$WORKERS${NICE:+ NICE=$NICE} bench/compare.sh $*"

say() { printf '%s compare: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- peers from Debian (Ergo is not among them: Debian's "ergo" package is unrelated) ---------
need_install=()
case " $SERVERS " in *" ngircd "*) command -v ngircd >/dev/null || need_install+=(ngircd) ;; esac
case " $SERVERS " in *" inspircd "*) [ -x /usr/sbin/inspircd ] || need_install+=(inspircd) ;; esac
if [ ${#need_install[@]} -gt 0 ]; then
    say "installing ${need_install[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_install[@]}" >/dev/null
    # The packages start their system service; the bench runs its own copies.
    for s in "${need_install[@]}"; do $SUDO service "$s" stop >/dev/null 2>&1 || true; done
fi

if [ "$SKIP_BUILD" != 1 ]; then
    make -s "$TCPCHATD" "$BENCH" >&2
fi

TMP=$(mktemp -d /tmp/tcpchat-compare.XXXXXX)
# ngircd drops root for "nobody", which must still read its MOTD and write its pid file.
chmod 1777 "$TMP"
echo "tcpchat benchmark peer" > "$TMP/motd"
chmod 644 "$TMP/motd"
RAW="$TMP/results.txt"
: > "$RAW"
SERVER_PID=""

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq $((STOP_WAIT * 10))); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
trap 'stop_server; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# Starts server $1 on port $2 in the background; sets SERVER_PID; logs to $TMP/$1-$2.log.
start_server() {
    local name=$1 port=$2 log="$TMP/$1-$2.log" conf web=()
    BENCH_PORT=$port
    BENCH_WS=()
    case $name in
    tcpchatd | tcpchatd_nohist | tcpchatd_base | tcpchatd_ws)
        # tcpchatd stores every message (its default, history on) in a store of its own for
        # the run; tcpchatd_nohist is the same server with --history off, to show the cost;
        # tcpchatd_base is another build (TCPCHATD_BASE), history on.
        local hist=(--data-dir "$TMP/data-$port") bin=$TCPCHATD
        [ "$name" != tcpchatd_nohist ] || hist=(--data-dir "$TMP/data-$port" --history off)
        if [ "$name" = tcpchatd_base ]; then
            [ -x "$TCPCHATD_BASE" ] || { say "tcpchatd_base needs TCPCHATD_BASE=path"; return 1; }
            bin=$TCPCHATD_BASE
        fi
        [ "$(id -u)" -ne 0 ] || hist+=(--allow-root)
        if [ "$name" = tcpchatd_ws ]; then
            BENCH_PORT=$((port + 10000)) # the web listener; the bench speaks WebSocket to it
            BENCH_WS=(--websocket)
            web=(--http-port "$BENCH_PORT")
        fi
        "${RUN_PREFIX[@]}" "$bin" --bind 127.0.0.1 --port "$port" --workers "$WORKERS" "${web[@]}" \
            --ip-exempt 127.0.0.0/8 \
            "${hist[@]}" --default-channel '' --max-clients 1000000 \
            --flood-rate 1000000 --flood-burst 1000000 \
            --sendq 1073741824 --sendq-soft 1048576 --recvq 1048576 \
            --log-level warn < /dev/null > "$log" 2>&1 &
        ;;
    ngircd)
        conf="$TMP/ngircd-$port.conf"
        sed -e "s|@PORT@|$port|; s|@PIDFILE@|$TMP/ngircd-$port.pid|; s|@MOTD@|$TMP/motd|" \
            bench/peers/ngircd.conf > "$conf"
        "${RUN_PREFIX[@]}" ngircd --nodaemon --config "$conf" < /dev/null > "$log" 2>&1 &
        ;;
    inspircd)
        conf="$TMP/inspircd-$port.conf"
        sed -e "s|@PORT@|$port|; s|@PIDFILE@|$TMP/inspircd-$port.pid|; s|@MOTD@|$TMP/motd|" \
            -e "s|@LOG@|$TMP/inspircd-$port.ircd.log|" bench/peers/inspircd.conf > "$conf"
        "${RUN_PREFIX[@]}" /usr/sbin/inspircd --nofork --runasroot --config="$conf" < /dev/null > "$log" 2>&1 &
        ;;
    *)
        say "unknown server $name"; return 1 ;;
    esac
    SERVER_PID=$!
    for _ in $(seq $((START_WAIT * 10))); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            say "$name exited at start:"; tail -5 "$log" >&2; SERVER_PID=""; return 1
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$BENCH_PORT") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    say "$name did not listen on port $port"; stop_server; return 1
}

# --- the runs --------------------------------------------------------------------------------
read -r -a server_list <<< "$SERVERS"
nservers=${#server_list[@]}
port=$PORT_BASE
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for scenario in $SCENARIOS; do
    for run in $(seq "$RUNS"); do
        # Alternate: run r starts with server r-1 (mod n), so no server always goes first.
        for k in $(seq 0 $((nservers - 1))); do
            name=${server_list[$(((run - 1 + k) % nservers))]}
            port=$((port + 1))
            say "$scenario run $run/$RUNS: $name (port $port)"
            if ! start_server "$name" "$port"; then
                echo "RESULT scenario=\"$scenario\" label=\"$name\" status=\"failed\" why=\"server did not start\"" >> "$RAW"
                continue
            fi
            window_var="WINDOW_$name"
            # shellcheck disable=SC2086
            line=$("${RUN_PREFIX[@]}" "$BENCH" --scenario "$scenario" --port "$BENCH_PORT" "${BENCH_WS[@]}" --server-pid "$SERVER_PID" \
                --label "$name" --connect-window "${!window_var}" --quiet $BENCH_ARGS \
                2> "$TMP/bench-$port.err" | grep '^RESULT ' || true)
            if ! kill -0 "$SERVER_PID" 2>/dev/null; then
                say "$name died during the run:"; tail -5 "$TMP/$name-$port.log" >&2
                line="${line:-RESULT scenario=\"$scenario\" label=\"$name\" status=\"failed\"} server_died=1"
            fi
            stop_server
            [ -n "$line" ] || line="RESULT scenario=\"$scenario\" label=\"$name\" status=\"failed\" why=\"no RESULT line\""
            echo "$line" >> "$RAW"
            grep -E '^(status|messages|check|latency|join|disconnects|server) ' "$TMP/bench-$port.err" \
                | sed 's/^/    /' >&2 || true
        done
    done
done

# --- RESULTS.md ------------------------------------------------------------------------------
if [ -n "${TCPCHATD_VERSION:-}" ]; then
    versions="tcpchatd $TCPCHATD_VERSION"
else
    versions="tcpchatd $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (with uncommitted changes)')"
fi
command -v ngircd >/dev/null && versions="$versions; $(ngircd --version 2>/dev/null | head -1)"
[ -x /usr/sbin/inspircd ] && versions="$versions; InspIRCd $(dpkg-query -W -f='${Version}' inspircd 2>/dev/null || echo '?') (Debian)"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
export RAW OUT COMMAND SCENARIOS RUNS WORKERS versions started load_start load_end
export CPU_MODEL="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
export NPROC="$(nproc)" KERNEL="$(uname -sr)" MEM="$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
export WINDOWS="tcpchatd $WINDOW_tcpchatd, ngircd $WINDOW_ngircd, inspircd $WINDOW_inspircd"
python3 - <<'PY'
import os, re, statistics, collections

# Per scenario: (RESULT key, what it is, which way is better, decimals).
METRICS = {
    "fanout": [("deliveries_per_s", "deliveries/s", "higher", 0),
               ("lat_p99_ms", "latency p99 (ms)", "lower", 0),
               ("server_cpu_s_per_mdeliv", "server CPU s per million deliveries", "lower", 2),
               ("join_seen_s", "join of all clients (s)", "lower", 2)],
    "latency": [("lat_p50_ms", "latency p50 (ms)", "lower", 2),
                ("lat_p99_ms", "latency p99 (ms)", "lower", 2),
                ("lat_p999_ms", "latency p99.9 (ms)", "lower", 2),
                ("server_cpu_send_s", "server CPU s while sending", "lower", 2)],
    "joinstorm": [("join_seen_s", "every JOIN notice seen (s)", "lower", 2),
                  ("join_s", "last 366 (s)", "lower", 2),
                  ("server_cpu_join_s", "server CPU s for the joins", "lower", 2),
                  ("server_bytes_per_conn_joined", "server bytes per connection, joined", "lower", 0)],
    "manyrooms": [("lat_p50_ms", "latency p50 (ms)", "lower", 2),
                  ("lat_p99_ms", "latency p99 (ms)", "lower", 2),
                  ("server_cpu_send_s", "server CPU s while sending", "lower", 2)],
    "capacity": [("registered", "clients registered", "higher", 0),
                 ("server_bytes_per_conn_registered", "server bytes per connection, registered", "lower", 0),
                 ("server_bytes_per_conn_joined", "server bytes per connection, in rooms of 10", "lower", 0),
                 ("server_bytes_per_conn_last_join", "same, at the last JOIN notice (before settling)", "lower", 0),
                 ("lat_p99_ms", "chat latency p99 (ms)", "lower", 2)],
}
METRICS["bigroom"] = METRICS["fanout"]

def parse(line):
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}

rows = [parse(l) for l in open(os.environ["RAW"]) if l.startswith("RESULT ")]
runs = collections.defaultdict(list)
for r in rows:
    runs[(r.get("scenario"), r.get("label"))].append(r)
servers = []
for r in rows:
    if r.get("label") not in servers:
        servers.append(r.get("label"))
peers = [s for s in servers if not s.startswith("tcpchatd")]

def median(scen, server, key):
    vals = [float(r[key]) for r in runs[(scen, server)] if r.get("status") == "ok" and key in r]
    return statistics.median(vals) if vals else None

def fmt(v, d):
    if v is None:
        return "n/a"
    return f"{v:,.{d}f}" if d else f"{v:,.0f}"

out = []
out.append("# tcpchatd against ngircd and InspIRCd")
out.append("")
out.append("Written by `bench/compare.sh`: each server fresh for every run, on loopback, servers "
           "alternating run by run; figures are medians of the runs that completed. The ratio is "
           "tcpchatd / the best peer on that row: above 1 wins where higher is better, below 1 "
           "wins where lower is better.")
out.append("")
out.append(f"- Machine: {os.environ['NPROC']} CPUs ({os.environ['CPU_MODEL']}), "
           f"{os.environ['MEM']} RAM, {os.environ['KERNEL']}")
out.append(f"- Date: {os.environ['started']}; load average at start {os.environ['load_start']}, "
           f"at end {os.environ['load_end']}")
out.append(f"- Servers: {os.environ['versions']}; tcpchatd with --workers {os.environ['WORKERS']}")
out.append(f"- Command: `{os.environ['COMMAND']}`")
out.append(f"- Connections registering at once (--connect-window): {os.environ['WINDOWS']}")
out.append("")
out.append("| scenario | figure | better | " + " | ".join(servers) + " | tcpchatd / best peer |")
out.append("|---|---|---|" + "---|" * len(servers) + "---|")
for scen in os.environ["SCENARIOS"].split():
    for key, what, better, d in METRICS.get(scen, []):
        meds = {s: median(scen, s, key) for s in servers}
        peer_vals = [meds[p] for p in peers if meds[p] is not None]
        ratio = "n/a"
        if meds.get("tcpchatd") is not None and peer_vals:
            best = max(peer_vals) if better == "higher" else min(peer_vals)
            if best > 0:
                ratio = f"{meds['tcpchatd'] / best:.2f}"
        out.append(f"| {scen} | {what} | {better} | " +
                   " | ".join(fmt(meds[s], d) for s in servers) + f" | {ratio} |")
if "tcpchatd_base" in servers:
    out.append("")
    out.append("Before and after (tcpchatd is this build, tcpchatd_base the build in "
               "TCPCHATD_BASE), tcpchatd / tcpchatd_base:")
    out.append("")
    for scen in os.environ["SCENARIOS"].split():
        for key, what, better, d in METRICS.get(scen, []):
            new, old = median(scen, "tcpchatd", key), median(scen, "tcpchatd_base", key)
            if new is not None and old:
                out.append(f"- {scen}, {what}: {fmt(new, d)} vs {fmt(old, d)} = {new / old:.2f}")
if "tcpchatd_ws" in servers:
    out.append("")
    out.append("WebSocket against TCP (tcpchatd_ws: the same build, the bench's clients on the web "
               "listener, IRC over WebSocket), tcpchatd_ws / tcpchatd:")
    out.append("")
    for scen in os.environ["SCENARIOS"].split():
        for key, what, better, d in METRICS.get(scen, []):
            ws, tcp = median(scen, "tcpchatd_ws", key), median(scen, "tcpchatd", key)
            if ws is not None and tcp:
                out.append(f"- {scen}, {what}: {fmt(ws, d)} vs {fmt(tcp, d)} = {ws / tcp:.2f}")
if "tcpchatd_nohist" in servers:
    out.append("")
    out.append("History cost (tcpchatd stores every message; tcpchatd_nohist runs with "
               "`--history off`), tcpchatd / tcpchatd_nohist:")
    out.append("")
    for scen in os.environ["SCENARIOS"].split():
        for key, what, better, d in METRICS.get(scen, [])[:2]:
            on, off = median(scen, "tcpchatd", key), median(scen, "tcpchatd_nohist", key)
            if on is not None and off:
                out.append(f"- {scen}, {what}: {fmt(on, d)} vs {fmt(off, d)} = {on / off:.2f}")
out.append("")
out.append("## Checks per run (lost / reordered / disconnects, status)")
out.append("")
out.append("| scenario | server | runs ok | lost | reordered | disconnects | notes |")
out.append("|---|---|---|---|---|---|---|")
for scen in os.environ["SCENARIOS"].split():
    for s in servers:
        rs = runs[(scen, s)]
        ok = sum(1 for r in rs if r.get("status") == "ok")
        lost = "/".join(r.get("lost", "?") for r in rs)
        reo = "/".join(r.get("reordered", "?") for r in rs)
        disc = "/".join(r.get("disconnects", "?") for r in rs)
        notes = "; ".join(sorted({(r.get("why") or "") + (" " + r["disconnect_reasons"] if r.get("disconnect_reasons") else "")
                                   for r in rs} - {""}))
        out.append(f"| {scen} | {s} | {ok}/{len(rs)} | {lost} | {reo} | {disc} | {notes} |")
out.append("")
out.append("## Raw RESULT lines")
out.append("")
out.append("```")
out.extend(l.rstrip("\n") for l in open(os.environ["RAW"]) if l.startswith("RESULT "))
out.append("```")
open(os.environ["OUT"], "w").write("\n".join(out) + "\n")
PY
say "wrote $OUT"
