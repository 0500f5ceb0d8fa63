"""tcpchatd end to end: the config file (--config), command-line options overriding it, errors
with FILE:LINE, the commented example in the repository, and --mkpasswd."""
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import (ROOT_ARGS, ROOT, SERVER_BIN, TIMEOUT, Client, Msg, barrier, free_port, is_command,
                      is_numeric)
from test_tls import certs  # noqa: F401 (a fixture)

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "WARNING: ThreadSanitizer",
                   "ERROR: LeakSanitizer")
EXAMPLE = os.path.join(ROOT, "tcpchatd.conf.example")


def run(*args, stdin=b""):
    """Runs tcpchatd with args to completion; returns (exit status, stdout, stderr)."""
    p = subprocess.run([SERVER_BIN] + ROOT_ARGS + list(args), input=stdin, capture_output=True,
                       timeout=TIMEOUT)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    for mark in SANITIZER_MARKS:
        assert mark not in err, err
    return p.returncode, out, err


class Daemon:
    """tcpchatd started with exactly the given arguments (the conftest Server always passes
    --port and --server-name, which would override the file under test)."""

    def __init__(self, args, port):
        self.port = port
        self.proc = subprocess.Popen([SERVER_BIN] + ROOT_ARGS + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("tcpchatd exited early: " + self.proc.stdout.read().decode())
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("tcpchatd did not start listening on %d" % port)
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=TIMEOUT)
        return self.proc.returncode, out.decode("utf-8", "replace")


@pytest.fixture
def daemon():
    started = []

    def make(args, port):
        d = Daemon(args, port)
        started.append(d)
        return d

    yield make
    for d in started:
        rc, log = d.stop()
        for mark in SANITIZER_MARKS:
            assert mark not in log, log
        assert rc == 0, log


def write(tmp_path, text, name="tcpchatd.conf"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ---- settings from the file -------------------------------------------------------------

def test_file_sets_port_name_channel_and_description(tmp_path, daemon):
    port = free_port()
    conf = write(tmp_path, "# a comment\n[server]\nport = %d\nbind = 127.0.0.1\n"
                           "name = conf.example.net\ndefault-channel = #fromfile\n"
                           "description = \"Configured by file\"\nworkers = 2\n" % port)
    daemon(["--config", conf], port)
    c = Client(port, None)
    c.send("NICK alice")
    c.send("USER alice 0 * :Alice")
    welcome = Msg(c.expect(is_numeric("001")))
    assert welcome.prefix == "conf.example.net"
    join = Msg(c.expect(is_command("JOIN", "alice")))
    assert join.params[0] == "#fromfile"
    c.expect(is_numeric("366", "#fromfile"))
    c.send("WHOIS alice")
    m = Msg(c.expect(is_numeric("312", "alice")))
    assert m.params[2:] == ["conf.example.net", "Configured by file"]
    c.close()


def test_command_line_overrides_file(tmp_path, daemon):
    file_port, cli_port = free_port(), free_port()
    conf = write(tmp_path, "[server]\nport = %d\nbind = 127.0.0.1\nname = file.name\n"
                           "default-channel = #fromfile\n" % file_port)
    daemon(["--port", str(cli_port), "--config", conf, "--server-name", "cli.name"], cli_port)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", file_port), timeout=1).close()
    c = Client(cli_port, None)
    c.send("NICK bob")
    c.send("USER bob 0 * :Bob")
    assert Msg(c.expect(is_numeric("001"))).prefix == "cli.name"
    c.expect(is_numeric("366", "#fromfile"))  # not overridden: still the file's
    c.close()


def test_oper_section_colon_form_and_empty_channel(tmp_path, daemon):
    port = free_port()
    hash_ = mkpasswd("pw")
    conf = write(tmp_path, "[server]\nport = %d\nbind = 127.0.0.1\ndefault-channel = \"\"\n"
                           "[oper:carol]\npassword = %s\n" % (port, hash_))
    daemon(["-c", conf], port)
    c = Client(port, "carol")
    c.send("OPER carol pw")
    c.expect(is_numeric("381"))
    lines = barrier(c)
    assert not any(Msg(l).command == "JOIN" for l in lines), lines
    c.close()


def test_example_config_in_repository_loads(daemon):
    port = free_port()
    # The example listens on 6667 on every address: the command line moves it.
    daemon(["--config", EXAMPLE, "--port", str(port), "--bind", "127.0.0.1",
            "--log-level", "debug"], port)
    c = Client(port, "dave")
    c.send("OPER admin change-me")
    c.expect(is_numeric("381"))
    c.close()


# ---- errors -----------------------------------------------------------------------------

BAD_CONFIGS = [
    ("[server]\nport = 6667\nport = seventy\n", 3, r"port wants a number from 1 to 65535"),
    ("# comment\n\n[server]\nbogus-key = 1\n", 4, r"unknown key 'bogus-key'"),
    ("[server]\nport = 1\n\n[servre]\nname = x\n", 4, r"unknown section \[servre\]"),
    ("port = 6667\n", 1, r"section header"),
    ("[server]\nthis line has no equals sign\n", 2, r"expected 'key = value'"),
    ("[server]\nworkers = 0\n", 2, r"workers wants a number"),
    ("[server]\nname = bad name\n", 2, r"name must be"),
    ("[server]\nlog-level = loud\n", 2, r"log-level wants error, warn, info or debug"),
    ("[server]\ndefault-channel = lobby\n", 2, r"default-channel must be a valid channel"),
    ("[server]\nconfig = other.conf\n", 2, r"unknown key 'config'"),
    ("[oper \"x\"]\npassword = hunter2\n", 2, r"must be a hash from 'tcpchatd --mkpasswd'"),
    ("[server]\n\n[oper \"x\"]\nhost = *\n", 3, r"operator 'x' has no password"),
    ("[oper \"x\"]\ncolour = red\n", 2, r"unknown key 'colour' in \[oper \"x\"\]"),
    ("[oper \"a b\"]\nhost = *\n", 1, r"bad operator section"),
]


@pytest.mark.parametrize("text,line,what", BAD_CONFIGS)
def test_bad_config_exits_1_with_file_and_line(tmp_path, text, line, what):
    conf = write(tmp_path, text)
    rc, out, err = run("--config", conf, "--port", str(free_port()))
    assert rc == 1, (out, err)
    first = err.splitlines()[0]
    assert first.startswith("tcpchatd: %s:%d: " % (conf, line)), err
    assert re.search(what, first), err


def test_duplicate_oper_is_an_error(tmp_path):
    h = mkpasswd("x")
    conf = write(tmp_path, "[oper \"a\"]\npassword = %s\n[oper:a]\npassword = %s\n" % (h, h))
    rc, _, err = run("--config", conf)
    assert rc == 1
    assert err.startswith("tcpchatd: %s:3: operator 'a' is defined twice" % conf), err


def test_missing_config_file(tmp_path):
    path = str(tmp_path / "nope.conf")
    rc, _, err = run("--config", path)
    assert rc == 1
    assert err.startswith("tcpchatd: %s: cannot read config file" % path), err


def test_bad_command_line_value_still_reported_with_config(tmp_path):
    conf = write(tmp_path, "[server]\nport = 7000\n")
    rc, _, err = run("--config", conf, "--port", "0")
    assert rc == 1
    assert "--port wants a number from 1 to 65535" in err, err


def test_help_lists_config_and_mkpasswd():
    rc, out, _ = run("--help")
    assert rc == 0
    assert "--config FILE" in out and "--mkpasswd" in out and "--description" in out


# ---- --mkpasswd -------------------------------------------------------------------------

def mkpasswd(password):
    rc, out, err = run("--mkpasswd", stdin=(password + "\n").encode())
    assert rc == 0, err
    return out.strip()


def test_mkpasswd_prints_an_argon2id_hash():
    a, b = mkpasswd("s3cret"), mkpasswd("s3cret")
    assert a.startswith("$argon2id$v=19$"), a
    assert a != b  # salted
    assert "\n" not in a


@pytest.mark.parametrize("stdin", [b"", b"\n"])
def test_mkpasswd_refuses_no_password(stdin):
    rc, out, err = run("--mkpasswd", stdin=stdin)
    assert rc == 1 and out == ""
    assert err.startswith("tcpchatd: "), err


def configtest(*args):
    return subprocess.run([SERVER_BIN, "--configtest"] + list(args), capture_output=True,
                          text=True, timeout=TIMEOUT)


def test_configtest_checks_and_starts_nothing(tmp_path, certs):
    """tcpchatd -t / --configtest (issue 20): reads and checks the options, the config file
    (errors with FILE:LINE) and the certificate; exit 0 or 1; listens on nothing."""
    port = free_port()
    good = tmp_path / "good.conf"
    good.write_text("[server]\nport = %d\nname = irc.example.org\n" % port)
    r = configtest("-c", str(good))
    assert r.returncode == 0 and "good" in r.stdout, (r.stdout, r.stderr)
    with pytest.raises(OSError):  # nothing was started
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    bad = tmp_path / "bad.conf"
    bad.write_text("[server]\nport = 6667\nsendq = lots\n")
    r = configtest("-c", str(bad))
    assert r.returncode == 1 and "%s:3:" % bad in r.stderr, r.stderr
    cert_a, key_a = certs["a"]
    _, key_b = certs["b"]
    assert configtest("--tls-cert", cert_a, "--tls-key", key_a).returncode == 0
    r = configtest("--tls-cert", cert_a, "--tls-key", key_b)  # a key of another certificate
    assert r.returncode == 1 and r.stderr.startswith("tcpchatd: "), r.stderr
    r = subprocess.run([SERVER_BIN, "-t", "--port", "99999"], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 1 and "--port" in r.stderr
