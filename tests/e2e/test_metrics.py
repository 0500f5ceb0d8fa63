"""Issue 20: /metrics on the web listener, in the Prometheus text format, for the addresses
--metrics-allow names (loopback by default). The page is parsed with prometheus_client's own
parser, the way a scraper reads it. The workers publish their counters once a tick (a second),
so the tests poll, bounded, for a counter to move."""
import asyncio
import base64
import json
import os
import re
import subprocess
import threading
import time

import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT_ARGS, SERVER_BIN, TIMEOUT, is_numeric
from test_websocket import http, run, status_of, web_server, ws_register


def scrape(port, method=b"GET"):
    r = http(port, method + b" /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = r.partition(b"\r\n\r\n")
    return status_of(r), head, body


def samples(port):
    """{(name, frozenset(labels)): value} of one scrape; fails unless it is a 200 the
    Prometheus parser takes."""
    status, head, body = scrape(port)
    assert status == 200, head
    assert b"Content-Type: text/plain; version=0.0.4" in head
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(got, name, **labels):
    return got[(name, frozenset(labels.items()))]


def wait_for(port, cond, what):
    """Scrapes until cond(samples) holds: the counters move once a tick."""
    deadline = time.time() + TIMEOUT
    while True:
        got = samples(port)
        if cond(got):
            return got
        if time.time() > deadline:
            raise AssertionError("%s; last scrape: %r" % (what, got))
        time.sleep(0.2)


def test_page_parses_and_has_the_gauges(server_factory):
    srv = web_server(server_factory)
    got = samples(srv.http_port)
    for name in ("tcpchat_users", "tcpchat_channels", "tcpchat_connections_open",
                 "tcpchat_resident_memory_bytes", "tcpchat_start_time_seconds",
                 "tcpchat_messages_in_total", "tcpchat_deliveries_total",
                 "tcpchat_history_queued", "tcpchat_history_writer_lag_seconds",
                 "tcpchat_worker_busy_seconds_total"):
        assert any(n == name for n, _ in got), name
    assert value(got, "tcpchat_resident_memory_bytes") > 1 << 20
    assert abs(value(got, "tcpchat_start_time_seconds") - time.time()) < 3600
    assert value(got, "tcpchat_users", node="local") == 0
    assert not any(n.startswith("tcpchat_cluster") for n, _ in got), "no cluster, no link"


def test_counters_follow_the_chat(server_factory, client_factory):
    srv = web_server(server_factory, "--flood-rate", "5", "--flood-burst", "10",
                     "--recvq", "4096")
    alice, bob, carol = (client_factory(srv, n) for n in ("alice", "bob", "carol"))
    for i in range(5):
        alice.send("PRIVMSG #lobby :line %d" % i)
    bob.expect(lambda l: "line 4" in l)
    carol.expect(lambda l: "line 4" in l)
    got = wait_for(srv.http_port,
                   lambda g: value(g, "tcpchat_messages_in_total") >= 5
                   and value(g, "tcpchat_connections", transport="irc", state="registered") == 3,
                   "five messages in, three users counted")
    assert value(got, "tcpchat_users", node="local") == 3
    assert value(got, "tcpchat_channels") == 1
    assert value(got, "tcpchat_registrations_total") == 3
    # Each line reaches bob and carol (and nobody echoes it to alice without echo-message).
    assert value(got, "tcpchat_deliveries_total") >= 10
    assert value(got, "tcpchat_bytes_in_total") > 5 * len("PRIVMSG #lobby :line 0\r\n")
    assert value(got, "tcpchat_bytes_out_total") > value(got, "tcpchat_bytes_in_total")
    # A flooder is cut off, and counted so.
    flood = b"".join(b"PRIVMSG #lobby :flood %d\r\n" % i for i in range(2000))
    blast = threading.Thread(target=send_ignoring_close, args=(carol, flood))
    blast.start()
    carol.wait_closed()
    blast.join(TIMEOUT)
    wait_for(srv.http_port,
             lambda g: value(g, "tcpchat_flood_disconnects_total") == 1
             and value(g, "tcpchat_disconnects_total") >= 1
             and value(g, "tcpchat_users", node="local") == 2,
             "the flooder's disconnect counted")


def send_ignoring_close(client, data):
    try:
        client.sock.sendall(data)
    except OSError:
        pass  # the server may close while we are still sending


def test_failed_logins_are_counted(server_factory, client_factory):
    srv = web_server(server_factory)
    c = client_factory(srv, None)
    c.send("CAP LS 302")
    c.send("NICK guesser")
    c.send("USER g 0 * :g")
    c.send("CAP REQ :sasl")
    c.expect(lambda l: " ACK " in l)
    c.send("AUTHENTICATE PLAIN")
    c.expect(lambda l: l == "AUTHENTICATE +")
    c.send("AUTHENTICATE " + base64.b64encode(b"\0nobody\0wrong password").decode())
    c.expect(is_numeric("904"))
    wait_for(srv.http_port, lambda g: value(g, "tcpchat_failed_logins_total") == 1,
             "the refused login counted")


def test_refused_outside_metrics_allow(server_factory):
    srv = web_server(server_factory, "--metrics-allow", "10.0.0.0/8,fd00::/8")
    status, head, body = scrape(srv.http_port)
    assert status == 403
    assert b"tcpchat_" not in body


def test_head_has_no_body(server_factory):
    srv = web_server(server_factory)
    status, head, body = scrape(srv.http_port, b"HEAD")
    assert status == 200 and body == b""
    length = [h for h in head.split(b"\r\n") if h.startswith(b"Content-Length:")]
    assert length and int(length[0][15:]) > 0


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "nonsense", "::1/129"])
def test_bad_metrics_allow_refused_at_start(server_factory, bad):
    p = subprocess.run([SERVER_BIN] + ROOT_ARGS + ["--metrics-allow", bad, "--configtest"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode != 0
    assert "metrics-allow" in p.stderr


def test_websocket_users_counted_by_transport(server_factory):
    srv = web_server(server_factory)

    async def chat():
        async with websockets.connect("ws://127.0.0.1:%d/irc" % srv.http_port,
                                      subprotocols=["text.ircv3.net"]) as ws:
            await ws_register(ws, "webby")
            await asyncio.to_thread(
                wait_for, srv.http_port,
                lambda g: value(g, "tcpchat_connections", transport="websocket",
                                state="registered") == 1, "the WebSocket user counted")
    run(chat())


def test_sample_dashboard_queries_what_the_page_has(server_factory):
    """docs/grafana-dashboard.json is JSON, and each metric its panels query is on the page
    (the cluster's only in cluster mode, checked in test_cluster)."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "grafana-dashboard.json")
    with open(path) as f:
        dashboard = json.load(f)
    queried = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            queried |= set(re.findall(r"tcpchat_[a-z_]+", target["expr"]))
    srv = web_server(server_factory)
    on_page = {name for name, _ in samples(srv.http_port)}
    missing = {m for m in queried if m not in on_page and not m.startswith("tcpchat_cluster")}
    assert queried and not missing, missing
