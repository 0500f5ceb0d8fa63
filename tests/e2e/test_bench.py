"""tcpchat-bench end to end: it drives a real tcpchatd and counts right, and it stops by itself.
Functional checks only: no figure here is a performance assertion."""
import json
import os
import re
import socket
import subprocess
import time

from conftest import BUILD, TIMEOUT, Client, free_port, is_numeric
from test_tls import certs  # noqa: F401 (a fixture)

BENCH_BIN = os.path.join(BUILD, "tcpchat-bench")
# Flood limits lifted: the senders send as fast as the server reads.
UNTHROTTLED = ("--flood-rate", "1000000", "--flood-burst", "1000000")


def run_bench(*args, timeout=TIMEOUT * 3):
    proc = subprocess.run([BENCH_BIN, "--quiet"] + [str(a) for a in args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def result(stdout):
    """The key=value pairs of the RESULT line, strings unquoted."""
    lines = [l for l in stdout.splitlines() if l.startswith("RESULT ")]
    assert len(lines) == 1, stdout
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', lines[0])}


def test_counts_every_delivery_in_order(server_factory):
    srv = server_factory(*UNTHROTTLED)
    rc, out, err = run_bench("--port", srv.port, "--clients", 20, "--senders", 2,
                             "--messages", 50, "--timeout", TIMEOUT, "--server-pid", srv.proc.pid,
                             "--settle", 0.2)
    assert rc == 0, err
    r = result(out)
    assert r["status"] == "ok", err
    assert (r["registered"], r["joined"]) == ("20", "20"), err
    # Every sender's messages reach the 19 other members of #bench0, in order.
    assert int(r["expected"]) == 2 * 50 * 19
    assert r["delivered"] == r["expected"], err
    assert (r["lost"], r["reordered"], r["gaps"], r["disconnects"]) == ("0", "0", "0", "0"), err
    # 20 joins: each member sees its own JOIN and every later one.
    assert r["join_notices"] == r["join_notices_expected"] == str(20 * 21 // 2)
    # --server-pid: the server's figures are there, the joined state measured twice: at the
    # last JOIN notice and after --settle.
    assert float(r["server_rss_end_kib"]) > 0
    assert float(r["server_rss_last_join_kib"]) > 0 and float(r["server_rss_joined_kib"]) > 0
    assert float(r["elapsed_s"]) >= 0.2


def test_many_channels_fixed_rate_json(server_factory):
    srv = server_factory(*UNTHROTTLED)
    rc, out, err = run_bench("--port", srv.port, "--clients", 20, "--channels", 4,
                             "--senders", 4, "--rate", 50, "--duration", 0.4,
                             "--timeout", TIMEOUT, "--json")
    assert rc == 0, err
    r = json.loads(out)
    assert r["status"] == "ok" and r["messages"] == 20, err
    # Four rooms of five: each sender reaches the four others of its room.
    assert r["expected"] == 4 * 20 * 4
    assert r["delivered"] == r["expected"] and r["lost"] == 0 and r["reordered"] == 0, err
    assert 0 < r["lat_p50_ms"] <= r["lat_p99_ms"] <= r["lat_max_ms"]


def test_nick_in_use_is_retried(server_factory):
    srv = server_factory(*UNTHROTTLED)
    squatter = Client(srv.port, "b1")  # the bench's second client wants this nick
    squatter.expect(is_numeric("366", "#lobby"))
    try:
        rc, out, err = run_bench("--port", srv.port, "--clients", 3, "--senders", 1,
                                 "--messages", 5, "--timeout", TIMEOUT)
    finally:
        squatter.close()
    assert rc == 0, err
    r = result(out)
    assert r["registered"] == "3" and int(r["nick_retries"]) >= 1, err
    assert r["delivered"] == r["expected"] == str(5 * 2), err


def test_timeout_stops_it_against_a_server_that_never_answers():
    # A listening socket nobody accepts or reads from: connects complete, nothing comes back.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(16)
        start = time.time()
        rc, out, err = run_bench("--port", mute.getsockname()[1], "--clients", 3,
                                 "--timeout", 1, timeout=TIMEOUT)
        took = time.time() - start
    assert rc == 2, err
    r = result(out)
    assert r["status"] == "timeout" and r["registered"] == "0", out
    assert took < TIMEOUT, took


def test_bad_usage_exits_1():
    rc, out, err = run_bench("--clients", 0, timeout=TIMEOUT)
    assert rc == 1 and "--clients" in err
    rc, out, err = run_bench("--scenario", "nosuch", timeout=TIMEOUT)
    assert rc == 1 and "unknown scenario" in err


def test_websocket_counts_every_delivery_and_meets_tcp_clients(server_factory, certs):
    """--websocket: the bench's clients speak IRC over WebSocket (plain, and over TLS on the
    HTTPS port), and every message reaches every member exactly once, in order; a TCP client in
    the same room sees the WebSocket clients' messages too."""
    from test_tls import wait_port
    cert, key = certs["a"]
    http, https = free_port(), free_port()
    srv = server_factory(*UNTHROTTLED, "--http-port", str(http), "--https-port", str(https),
                         "--tls-port", str(free_port()), "--tls-cert", cert, "--tls-key", key)
    wait_port(https)
    watcher = Client(srv.port, "watcher")
    watcher.send("JOIN #bench0")
    watcher.expect(lambda l: " 366 " in l and "#bench0" in l)
    for extra in ([], ["--tls"]):
        rc, out, err = run_bench("--port", https if extra else http, "--websocket", *extra,
                                 "--clients", 12, "--senders", 3, "--messages", 40,
                                 "--nick-prefix", "wt" if extra else "ws", "--timeout", TIMEOUT)
        assert rc == 0, err
        r = result(out)
        assert (r["status"], r["websocket"], r["registered"], r["joined"]) == ("ok", "1", "12", "12"), err
        assert int(r["expected"]) == 3 * 40 * 11  # the watcher is not one of the bench's
        assert r["delivered"] == r["expected"], err
        assert (r["lost"], r["reordered"], r["gaps"], r["disconnects"]) == ("0", "0", "0", "0"), err
    # The watcher got all 240 of them over plain TCP.
    got = 0
    while got < 2 * 3 * 40:
        watcher.expect(lambda l: "PRIVMSG #bench0 :" in l)
        got += 1


def test_websocket_refused_upgrade_is_reported(server_factory):
    """--websocket against a port that is not a web listener (the IRC port): the bench gives
    up with the server's answer instead of counting a hang."""
    srv = server_factory()
    rc, out, err = run_bench("--port", srv.port, "--websocket", "--clients", 2, "--senders", 1,
                             "--messages", 1, "--timeout", TIMEOUT)
    r = result(out)
    assert rc == 2 and r["status"] != "ok", out
    assert "WebSocket upgrade refused" in r["disconnect_reasons"], out
