"""TLS on the client side: tcpchat --tls (certificate checked against the system trust store or
--tls-ca, host name checked against HOST, --tls-insecure with a warning) against tcpchatd's TLS
port, with a raw-socket user on the plaintext port on the other side; and tcpchat-bench --tls.
Certificates are throwaway self-signed ones made once per test session with the command the
README gives."""
import os
import shlex
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import CLIENT_BIN, TIMEOUT, Client, free_port, is_numeric
from test_bench import UNTHROTTLED, result, run_bench
from test_client import Pane, is_privmsg, joined

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """{"localhost": (cert, key), "other": (cert, key)}: self-signed, CN only (no
    subjectAltName), as the README's openssl command makes them. "other" names
    tcpchat.invalid, a host nobody is."""
    d = tmp_path_factory.mktemp("tls-clients")
    out = {}
    for name, cn in (("localhost", "localhost"), ("other", "tcpchat.invalid")):
        cert, key = str(d / (name + "-cert.pem")), str(d / (name + "-key.pem"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=" + cn, "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        out[name] = (cert, key)
    return out


def tls_server(server_factory, cert_key, *args):
    """A tcpchatd with a plaintext port (.port) and a TLS port (.tls_port), both listening."""
    tls_port = free_port()
    srv = server_factory("--tls-port", str(tls_port), "--tls-cert", cert_key[0],
                         "--tls-key", cert_key[1], *args)
    srv.tls_port = tls_port
    deadline = time.time() + TIMEOUT
    while True:  # the conftest waits for the plaintext port; the TLS one opens right after
        try:
            Client(tls_port).close()
            return srv
        except OSError:
            assert time.time() < deadline, "the TLS port never opened"
            time.sleep(0.05)


class ArgsPane(Pane):
    """tcpchat with any arguments in a tmux pane; otherwise test_client's Pane."""

    def __init__(self, args, width=120, height=30):
        self.dir = tempfile.mkdtemp(prefix="tcpchat-tmux-")
        self.sock = os.path.join(self.dir, "tmux")
        client = " ".join(shlex.quote(str(a)) for a in [CLIENT_BIN, "--plain"] + list(args))
        modes = "stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '"
        script = ('trap : INT; %s; echo "[exit $?]"; echo "[stty $(%s)]"; exec sleep 3600'
                  % (client, modes))
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", str(width),
                   "-y", str(height), "env", "INPUTRC=/dev/null", "sh", "-c", script)


@pytest.fixture
def pane():
    panes = []

    def make(*args):
        p = ArgsPane(args)
        panes.append(p)
        return p

    yield make
    texts = []
    for p in panes:
        try:
            texts.append(p.text())
        except subprocess.CalledProcessError:
            pass
        p.kill()
    for text in texts:
        for bad in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            assert bad not in text, text


def run_client(*args):
    """tcpchat run to its end with no input; returns (status, stderr lines)."""
    proc = subprocess.run([CLIENT_BIN] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    return proc.returncode, proc.stderr.decode("utf-8", "replace").splitlines()


def plain_user(srv, nick):
    user = Client(srv.port, nick)
    user.expect(is_numeric("366", "#lobby"))
    return user


def not_online(user, nick):
    """The server has no user nick (ISON answers with an empty list)."""
    user.send("ISON " + nick)
    line = user.expect(is_numeric("303"))
    assert line.rstrip().endswith(":"), line


@needs_tmux
def test_tls_ca_client_chats_with_a_plain_user(server_factory, certs, pane):
    srv = tls_server(server_factory, certs["localhost"])
    alice = plain_user(srv, "alice")
    bob = pane("--tls-ca", certs["localhost"][0], "localhost", srv.tls_port, "bob")
    bob.wait_for("over TLS (TLSv1.")
    assert "certificate verified" in bob.text()
    joined(bob)
    alice.expect(lambda l: l.startswith(":bob!") and " JOIN " in l)
    # What bob types arrives as sent, a line near the IRC limit included.
    bob.line("hello over tls")
    alice.expect(is_privmsg("bob", "#lobby", "hello over tls"))
    long_text = "x" * 300 + " y"
    bob.line(long_text)
    alice.expect(is_privmsg("bob", "#lobby", long_text))
    # And what alice says reaches him.
    alice.send("PRIVMSG #lobby :hi bob, plaintext here")
    bob.wait_for("<alice> hi bob, plaintext here")
    bob.line("/quit bye")
    alice.expect(lambda l: l.startswith(":bob!") and " QUIT " in l and "bye" in l)
    assert bob.exit_status() == 0


def test_self_signed_certificate_is_refused_without_tls_ca(server_factory, certs):
    srv = tls_server(server_factory, certs["localhost"])
    alice = plain_user(srv, "alice")
    rc, err = run_client("--tls", "localhost", srv.tls_port, "bob")
    assert rc == 1
    assert err == ["tcpchat: TLS: certificate verify failed: self-signed certificate"], err
    not_online(alice, "bob")


@pytest.mark.parametrize("cert,host,why", [
    ("other", "localhost", "hostname mismatch"),
    ("localhost", "127.0.0.1", "IP address mismatch"),
])
def test_host_name_mismatch_is_refused(server_factory, certs, cert, host, why):
    # The certificate is trusted (--tls-ca), but it is not for the host we asked for.
    srv = tls_server(server_factory, certs[cert])
    alice = plain_user(srv, "alice")
    rc, err = run_client("--tls-ca", certs[cert][0], host, srv.tls_port, "bob")
    assert rc == 1
    assert err == ["tcpchat: TLS: certificate verify failed: %s (the certificate is not for %s)"
                   % (why, host)], err
    not_online(alice, "bob")


@needs_tmux
def test_tls_insecure_connects_and_warns(server_factory, certs, pane):
    srv = tls_server(server_factory, certs["other"])
    alice = plain_user(srv, "alice")
    # Neither trusted nor for this host: --tls-insecure takes it anyway, and says so.
    bob = pane("--tls-insecure", "127.0.0.1", srv.tls_port, "bob")
    bob.wait_for("tcpchat: WARNING: --tls-insecure: the server's certificate is NOT verified")
    bob.wait_for("certificate NOT verified); registering as bob")
    joined(bob)
    bob.line("unverified but encrypted")
    alice.expect(is_privmsg("bob", "#lobby", "unverified but encrypted"))
    bob.line("/quit")
    assert bob.exit_status() == 0


def test_tls_to_a_plaintext_port_fails_clearly(server_factory, certs):
    srv = tls_server(server_factory, certs["localhost"])
    rc, err = run_client("--tls-insecure", "127.0.0.1", srv.port, "bob")
    assert rc == 1
    assert err[-1].startswith("tcpchat: TLS: handshake failed: ") and \
        err[-1].endswith("(is port %d a TLS port?)" % srv.port), err


def test_tls_options_usage():
    rc, err = run_client("--tls-ca", "ca.pem", "--tls-insecure", "localhost", "6697", "bob")
    assert rc == 2 and "contradict" in err[0], err
    rc, err = run_client("--tls", "localhost", "6697")
    assert rc == 2 and err[0].startswith("usage: tcpchat "), err
    proc = subprocess.run([CLIENT_BIN, "--help"], stdout=subprocess.PIPE, timeout=TIMEOUT)
    assert proc.returncode == 0
    for opt in (b"--tls ", b"--tls-ca FILE", b"--tls-insecure"):
        assert opt in proc.stdout, proc.stdout
    rc, err = run_client("--tls-ca", "/nonexistent/ca.pem", "localhost", "6697", "bob")
    assert rc == 1 and err == [
        "tcpchat: TLS: cannot load CA file /nonexistent/ca.pem: No such file or directory"], err


def test_bench_over_tls_counts_every_delivery(server_factory, certs):
    srv = tls_server(server_factory, certs["localhost"], *UNTHROTTLED)
    rc, out, err = run_bench("--tls", "--port", srv.tls_port, "--clients", 20, "--senders", 2,
                             "--messages", 50, "--timeout", TIMEOUT)
    assert rc == 0, err
    r = result(out)
    assert (r["status"], r["tls"]) == ("ok", "1"), err
    assert (r["registered"], r["joined"]) == ("20", "20"), err
    assert int(r["expected"]) == 2 * 50 * 19
    assert r["delivered"] == r["expected"], err
    assert (r["lost"], r["reordered"], r["gaps"], r["disconnects"]) == ("0", "0", "0", "0"), err


def test_bench_tls_against_a_plaintext_port_says_why(server_factory, certs):
    srv = tls_server(server_factory, certs["localhost"])
    rc, out, err = run_bench("--tls", "--port", srv.port, "--clients", 3, "--timeout", TIMEOUT,
                             timeout=TIMEOUT * 2)
    assert rc != 0, out
    r = result(out)
    assert r["status"] == "failed" and r["registered"] == "0", out
    assert r["disconnect_reasons"].startswith("TLS handshake: "), out
