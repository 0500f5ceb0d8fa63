"""Running as root: tcpchatd refuses it without --user or --allow-root, and with --user NAME
it binds, opens its stores, then becomes that user for good (and the data directory is
handed to it). These tests need root, as CI has; elsewhere they are skipped."""
import os
import pwd
import subprocess

import pytest

from conftest import SERVER_BIN, TIMEOUT, Client, free_port, is_numeric

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def start(*args):
    return subprocess.run([SERVER_BIN, "--bind", "127.0.0.1", "--port", str(free_port())] +
                          list(args), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=TIMEOUT)


@needs_root
def test_root_without_user_is_refused():
    p = start()
    assert p.returncode == 1
    assert p.stderr.startswith("tcpchatd: refusing to run as root: give --user NAME")
    assert not os.path.exists("data")  # refused before anything was made


@needs_root
def test_bad_users_are_refused():
    p = start("--user", "no-such-user-here")
    assert p.returncode == 1 and "--user no-such-user-here: no such user" in p.stderr
    p = start("--user", "root")
    assert p.returncode == 1 and "that is root" in p.stderr


@needs_root
def test_drops_to_the_user_and_keeps_working(server_factory):
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody here")
    srv = server_factory("--user", "nobody")
    # The port listens before the drop; a registered client means the workers run, which
    # start after it.
    alice = Client(srv.port, "alice")
    alice.expect(is_numeric("366"))
    with open("/proc/%d/status" % srv.proc.pid) as f:
        uids = [l.split()[1:] for l in f if l.startswith(("Uid:", "Gid:"))]
    assert uids[0] == [str(nobody.pw_uid)] * 4  # real, effective, saved, filesystem
    assert uids[1] == [str(nobody.pw_gid)] * 4
    assert os.stat("data").st_uid == nobody.pw_uid
    assert os.stat("data/history.db").st_uid == nobody.pw_uid
    alice.send("PRIVMSG #lobby :stored as nobody")
    bob = Client(srv.port, "bob")
    bob.expect(is_numeric("366"))
    bob.expect("stored as nobody")  # the replay: the store still works after the drop
    assert "running as user nobody" in srv.read_log()
