#!/usr/bin/env bash
# valgrind-check [BINARY]: runs tcpchatd (default build/tcpchatd, the plain build) under
# valgrind memcheck while clients connect, register, join and part channels, chat, change
# nicks, negotiate capabilities, send junk and leave (QUIT, abrupt close, never registered),
# then stops it with SIGTERM. Fails on any memcheck error or any definite or indirect leak.
# `make valgrind` runs it, and so does CI. Log: build/valgrind/memcheck.log.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/tcpchatd}
out=build/valgrind
rm -rf "$out/data"
mkdir -p "$out"
log="$out/memcheck.log"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# --errors-for-leak-kinds: "still reachable" at exit is not a leak (libc and libsodium keep
# some); definite and indirect ones are. Two workers, so cross-worker fan-out runs too.
valgrind --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file="$log" \
    "$bin" --bind 127.0.0.1 --port "$port" --server-name vg.test --workers 2 \
    --ip-exempt 127.0.0.0/8 \
    --data-dir "$out/data" $([ "$(id -u)" -eq 0 ] && echo --allow-root) \
    --log-level warn </dev/null >"$out/server.log" 2>&1 &
pid=$!
trap 'kill -KILL $pid 2>/dev/null || true' EXIT

if ! python3 - "$port" <<'EOF'; then
"""Drives the server: every client's steps end with a PING barrier, so each step is known to
have been handled before the next one starts."""
import socket
import sys
import time

PORT = int(sys.argv[1])
TIMEOUT = 60  # valgrind makes the server 20-50 times slower


def connect():
    deadline = time.time() + TIMEOUT
    while True:
        try:
            return socket.create_connection(("127.0.0.1", PORT), timeout=TIMEOUT)
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


class Client:
    def __init__(self, nick, caps=None):
        self.nick = nick
        self.sock = connect()
        self.buf = b""
        self.seq = 0
        if caps:
            self.send("CAP LS 302")
        self.send("NICK " + nick)
        self.send("USER %s 0 * :valgrind %s" % (nick, nick))
        if caps:
            self.send("CAP REQ :" + caps)
            self.send("CAP END")
        self.wait_for(" 001 ")

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def wait_for(self, text):
        deadline = time.time() + TIMEOUT
        while text.encode() not in self.buf:
            if time.time() > deadline:
                raise TimeoutError("%s: no %r in %r" % (self.nick, text, self.buf[-500:]))
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("%s: closed while waiting for %r" % (self.nick, text))
            self.buf += data
        self.buf = self.buf[self.buf.index(text.encode()) + len(text):]

    def barrier(self):
        self.seq += 1
        token = "vg-%s-%d" % (self.nick, self.seq)
        self.send("PING :" + token)
        self.wait_for(token)


clients = [Client("vg%d" % i, "message-tags server-time echo-message labeled-response batch"
                  if i % 2 else None) for i in range(6)]
for c in clients:
    c.send("JOIN #vg,#vg%d" % (clients.index(c) % 2))
    c.barrier()
a, b = clients[0], clients[1]
a.send("TOPIC #vg :valgrind run")
a.send("MODE #vg +nt")
a.send("MODE #vg +b *!*@192.0.2.1")
a.send("MODE #vg +o vg1")
for i, c in enumerate(clients):
    c.send("PRIVMSG #vg :hello from %s" % c.nick)
    c.send("PRIVMSG vg%d :private %d" % ((i + 1) % len(clients), i))
    c.send("NOTICE #vg0 :notice %d" % i)
    c.send("@label=l%d WHOIS vg0" % i)
    c.barrier()
b.send("@+draft/reply=x;label=t TAGMSG #vg")
b.send("WHO #vg")
b.send("NAMES #vg")
b.send("LIST")
b.send("LUSERS")
b.send("AWAY :away for a bit")
b.send("NICK vgnew")
b.send("SETNAME :new real name")
b.send("PART #vg1 :bye")
b.send("WHOWAS vg5")
b.barrier()
a.send("KICK #vg vg2 :out")
a.barrier()
# Junk: an oversize line, invalid UTF-8, a NUL, an unknown command.
junk = Client("vgjunk")
junk.sock.sendall(b"PRIVMSG #vg :" + b"x" * 20000 + b"\r\n")
junk.sock.sendall(b"PRIVMSG #vg :\xff\xfe bad\r\nPRIVMSG #vg :a\x00b\r\nFROB x\r\n")
junk.barrier()
# Leaving: QUIT, abrupt close (while in channels), never registered, half a line then close.
clients[2].send("QUIT :done")
clients[2].wait_for("ERROR")
clients[3].sock.close()
for _ in range(3):
    s = connect()
    s.sendall(b"NICK unreg\r\nPRIVMSG #vg :before registering\r\n")
    s.close()
s = connect()
s.sendall(b"NICK half\r\nUSER half 0 * :h\r\nPRIVMSG #vg :no end of li")
s.close()
# Everyone left is still served.
for c in (a, b, clients[4], clients[5], junk):
    c.send("PRIVMSG #vg :still here")
    c.barrier()
late = Client("vglate")
late.send("JOIN #vg")
late.barrier()
for c in (a, clients[4], junk, late):
    c.send("QUIT :bye")
# b and clients[5] are still connected at shutdown: the server says goodbye to them.
print("valgrind-check: clients done")
EOF
    echo "valgrind-check: the client script failed; server output:"
    cat "$out/server.log"
    exit 1
fi

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
trap - EXIT
summary=$(grep -E "ERROR SUMMARY|in use at exit|total heap usage|definitely lost|indirectly lost" \
    "$log" | sed 's/^==[0-9]*== *//')
if [ "$rc" -ne 0 ] || ! grep -q "ERROR SUMMARY: 0 errors" "$log"; then
    echo "valgrind-check: FAILED (exit status $rc; 99 means memcheck found errors or leaks)"
    cat "$log"
    exit 1
fi
echo "$summary"
echo "valgrind-check: no memcheck errors, no definite or indirect leaks (exit status 0)"
