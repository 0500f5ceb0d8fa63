#!/usr/bin/env bash
# callgrind-compare.sh: runs one small fixed workload (1,000 clients in 100 rooms, 5 messages
# each, 45,000 deliveries) against build/tcpchatd ("new") and BASE (default
# /tmp/base/build/tcpchatd, e.g. from `git worktree add /tmp/base COMMIT && make -C /tmp/base`)
# under callgrind, which counts instructions exactly where a noisy VM without hardware counters
# cannot time them. Then: callgrind_annotate /tmp/cg.new.out, /tmp/cg.base.out.
# Loopback only; each server gets a free port and a data directory of its own.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=${BASE:-/tmp/base/build/tcpchatd}
for name in new base; do
    bin=$ROOT/build/tcpchatd
    [ "$name" = base ] && bin=$BASE
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    data=$(mktemp -d)
    root=()
    [ "$(id -u)" -ne 0 ] || root=(--allow-root)
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$name.out "$bin" --bind 127.0.0.1 \
        --port "$port" --workers 2 --ip-exempt 127.0.0.0/8 --data-dir "$data" "${root[@]}" \
        --default-channel '' --max-clients 1000000 --flood-rate 1000000 --flood-burst 1000000 \
        --sendq 1073741824 --sendq-soft 1048576 --recvq 1048576 --log-level warn \
        </dev/null >/tmp/cg.$name.log 2>&1 &
    pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.2; done
    "$ROOT/build/tcpchat-bench" --port "$port" --clients 1000 --channels 100 --senders 1000 \
        --messages 5 --rate 0 --connect-window 20 --timeout 300 --quiet --server-pid "$pid" |
        tr ' ' '\n' | grep -E "^(delivered|lost)="
    kill -TERM "$pid"
    wait "$pid" || true
    rm -rf "$data"
    echo "$name: $(grep -o 'refs: .*' /tmp/cg.$name.log)"
done
