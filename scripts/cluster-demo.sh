#!/usr/bin/env bash
# cluster-demo: a chat network of three tcpchatd nodes and one redis-server on this machine's
# loopback, to try --cluster (docs/cluster.md). Ctrl-C stops them all and removes their data.
#
#   scripts/cluster-demo.sh            nodes on ports 6667, 6668, 6669; Redis on 6379
#   PORT=7000 REDIS_PORT=7379 NODES=3 scripts/cluster-demo.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PORT=${PORT:-6667}
REDIS_PORT=${REDIS_PORT:-6379}
NODES=${NODES:-3}
TCPCHATD=${TCPCHATD:-build/tcpchatd}

command -v redis-server > /dev/null || { echo "needs redis-server: scripts/deps.sh" >&2; exit 1; }
[ -x "$TCPCHATD" ] || make -s all

DIR=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
    wait 2> /dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

listening() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
wait_port() {
    for _ in $(seq 100); do
        listening "$1" && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1; see the logs in $DIR" >&2
    exit 1
}

for p in "$REDIS_PORT" $(seq "$PORT" $((PORT + NODES - 1))); do
    if listening "$p"; then
        echo "port $p is taken: choose others with PORT=... REDIS_PORT=..." >&2
        exit 1
    fi
done

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
    --logfile redis.log > /dev/null 2>&1 &
PIDS+=($!)
wait_port "$REDIS_PORT"

root=()
[ "$(id -u)" -ne 0 ] || root=(--allow-root)
for i in $(seq "$NODES"); do
    port=$((PORT + i - 1))
    "$TCPCHATD" --bind 127.0.0.1 --port "$port" --data-dir "$DIR/node$i" "${root[@]}" \
        --cluster "redis://127.0.0.1:$REDIS_PORT" --node-name "node$i" \
        < /dev/null > "$DIR/node$i.log" 2>&1 &
    PIDS+=($!)
    wait_port "$port"
done

echo "A network of $NODES nodes on Redis 127.0.0.1:$REDIS_PORT (logs in $DIR):"
for i in $(seq "$NODES"); do
    port=$((PORT + i - 1))
    echo "  node$i: build/tcpchat 127.0.0.1 $port yournick     (or irssi -c 127.0.0.1 -p $port)"
done
echo "Users on different nodes share nicks, channels and messages. Ctrl-C stops everything."
wait
