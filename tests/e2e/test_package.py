"""Issue 20: the Debian package. `make deb` builds it (from a copy of the tree, so the checkout
stays clean); the test installs it with dpkg, checks where its files went, that the tcpchat
system user exists and owns /var/lib/tcpchat, starts the installed /usr/sbin/tcpchatd as that
user with the installed config (ports given on the command line), has a client register and
read the default MOTD, stops it, then removes the package (data and config stay) and purges
it (they go).

It needs root and dpkg-buildpackage with debhelper (scripts/deps.sh installs them) and
changes the machine (a package, a system user), so it skips without them, except in CI
(TCPCHAT_REQUIRE_PACKAGE=1, set by .ci/run), where that is a failure. With systemd running
(a real machine, not a container) it also checks that the service the package started is
up and serves the MOTD on port 6667."""
import grp
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time

import pytest

from conftest import ROOT, TIMEOUT, Client, free_port

PKG = "tcpchat"
BUILD_TIMEOUT = 900  # a 2-core machine builds it in about a minute
FILES = ["/usr/sbin/tcpchatd", "/usr/bin/tcpchat", "/usr/bin/tcpchat-bench",
         "/lib/systemd/system/tcpchatd.service", "/etc/tcpchat/tcpchatd.conf",
         "/etc/tcpchat/tcpchatd.motd", "/usr/share/man/man8/tcpchatd.8.gz",
         "/usr/share/man/man5/tcpchatd.conf.5.gz", "/usr/share/man/man1/tcpchat.1.gz",
         "/usr/share/man/man1/tcpchat-bench.1.gz",
         "/usr/share/doc/tcpchat/tcpchatd.conf.example", "/usr/share/doc/tcpchat/copyright"]
WANTS = "/etc/systemd/system/multi-user.target.wants/tcpchatd.service"


def unavailable(reason):
    """Skips, or fails in CI where everything this test needs is installed."""
    if os.environ.get("TCPCHAT_REQUIRE_PACKAGE") == "1":
        pytest.fail(reason + " (TCPCHAT_REQUIRE_PACKAGE=1: CI must run this test)")
    pytest.skip(reason)


def run(cmd, timeout=TIMEOUT, env=None):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def dpkg(*args):
    """dpkg, waiting while another apt or dpkg holds its lock."""
    deadline = time.time() + 10 * TIMEOUT
    while True:
        p = run(["dpkg"] + list(args), timeout=10 * TIMEOUT)
        if p.returncode == 0 or "lock" not in p.stderr or time.time() > deadline:
            assert p.returncode == 0, "dpkg %s: %s%s" % (" ".join(args), p.stdout, p.stderr)
            return p
        time.sleep(1)


def installed():
    p = run(["dpkg-query", "-W", "-f=${Status}", PKG])
    return p.returncode == 0 and "ok installed" in p.stdout


def package_state():
    """'installed', 'config-files' (removed, conffiles left) or 'gone'."""
    p = run(["dpkg-query", "-W", "-f=${db:Status-Status}", PKG])
    return p.stdout.strip() if p.returncode == 0 and p.stdout.strip() != "not-installed" \
        else "gone"


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    """The package, built once by `make deb` into a temporary directory."""
    build = os.environ.get("TCPCHAT_BUILD", "build")
    if os.path.normpath(build) != "build":
        pytest.skip("the package does not depend on the sanitizer build (%s); the plain "
                    "run tests it" % build)
    if os.geteuid() != 0:
        unavailable("installing a package needs root")
    for tool in ("dpkg-buildpackage", "dh", "dpkg-parsechangelog", "setpriv"):
        if not shutil.which(tool):
            unavailable("%s is not installed (scripts/deps.sh installs it)" % tool)
    if package_state() != "gone":
        unavailable("the package %s is already on this machine; this test would replace "
                    "and purge it" % PKG)
    out = tmp_path_factory.mktemp("deb")
    # Not the make variables of a make that runs the tests (SAN=asan, a jobserver).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    before = run(["git", "-C", ROOT, "status", "--porcelain", "--ignored"])
    p = run(["make", "-C", ROOT, "deb", "DEB_OUT=%s" % out], timeout=BUILD_TIMEOUT, env=env)
    assert p.returncode == 0, p.stdout[-5000:] + p.stderr[-5000:]
    after = run(["git", "-C", ROOT, "status", "--porcelain", "--ignored"])
    if before.returncode == 0:
        assert after.stdout == before.stdout, "make deb changed the checkout"
    version = run(["dpkg-parsechangelog", "-l", os.path.join(ROOT, "debian/changelog"),
                   "-S", "Version"]).stdout.strip()
    debs = sorted(f for f in os.listdir(out) if f.startswith("%s_%s_" % (PKG, version))
                  and f.endswith(".deb"))
    assert len(debs) == 1, os.listdir(out)
    return os.path.join(out, debs[0])


def test_package_metadata(deb):
    """The control fields an install relies on: the user comes from adduser, the config and
    MOTD are conffiles, the libraries are found by dh_shlibdeps."""
    depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
    for lib in ("adduser", "libsodium", "libssl", "libsqlite3", "libinih", "libwslay"):
        assert lib in depends, depends
    conffiles = subprocess.run("dpkg-deb --ctrl-tarfile %s | tar -xOf - ./conffiles" % deb,
                               shell=True, capture_output=True, text=True, timeout=TIMEOUT)
    assert conffiles.stdout.split() == ["/etc/tcpchat/tcpchatd.conf",
                                        "/etc/tcpchat/tcpchatd.motd"], conffiles.stdout
    listing = run(["dpkg-deb", "-c", deb]).stdout
    for f in FILES:
        assert " ." + f + "\n" in listing or listing.endswith(" ." + f), f


def motd_of(port, nick):
    """Registers on port and returns the MOTD's lines; fails on 422 (no MOTD)."""
    c = Client(port, nick, register=False)
    try:
        c.send("NICK " + nick)
        c.send("USER %s 0 * :%s" % (nick, nick))
        lines = []
        while True:
            line = c.expect(lambda l: " 372 " in l or " 376 " in l or " 422 " in l)
            assert " 422 " not in line, "no MOTD: " + line
            if " 376 " in line:
                return lines
            lines.append(line.split(" :- ", 1)[1] if " :- " in line else "")
    finally:
        c.close()


def expected_motd():
    with open("/etc/tcpchat/tcpchatd.motd") as f:
        return f.read().splitlines()


def check_systemd_service():
    """With systemd running, the package enabled and started tcpchatd.service: it is active,
    serves the MOTD on the configured port and reloads; then it is stopped."""
    state = ""
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        state = run(["systemctl", "is-active", "tcpchatd.service"]).stdout.strip()
        if state == "active":
            break
        time.sleep(0.2)
    journal = run(["journalctl", "-u", "tcpchatd.service", "--no-pager", "-n", "30"]).stdout
    assert state == "active", journal
    assert motd_of(6667, "svcuser") == expected_motd()
    reload = run(["systemctl", "reload", "tcpchatd.service"])
    assert reload.returncode == 0, reload.stderr + journal
    assert run(["systemctl", "is-active", "tcpchatd.service"]).stdout.strip() == "active"
    # the test's own server below uses the same data directory
    stop = run(["systemctl", "stop", "tcpchatd.service"])
    assert stop.returncode == 0, stop.stderr


def test_package_install_run_purge(deb):
    try:
        dpkg("-i", deb)
        assert package_state() == "installed"

        # files, and their owners and modes
        for f in FILES:
            assert os.path.isfile(f), f
        assert os.path.islink(WANTS), "the unit was not enabled"
        user = pwd.getpwnam("tcpchat")
        group = grp.getgrnam("tcpchat")
        assert user.pw_uid < 1000 and user.pw_gid == group.gr_gid, user
        assert user.pw_dir == "/var/lib/tcpchat" and user.pw_shell.endswith("nologin"), user
        st = os.stat("/var/lib/tcpchat")
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == \
            (user.pw_uid, group.gr_gid, 0o700)
        st = os.stat("/etc/tcpchat/tcpchatd.conf")
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, group.gr_gid, 0o640)
        version = run(["/usr/sbin/tcpchatd", "--version"]).stdout
        pkg_version = run(["dpkg-query", "-W", "-f=${Version}", PKG]).stdout
        assert "tcpchat-" + pkg_version in version, (version, pkg_version)

        if os.path.isdir("/run/systemd/system"):
            check_systemd_service()

        # the installed server, as the tcpchat user, with the installed config
        as_tcpchat = ["setpriv", "--reuid=tcpchat", "--regid=tcpchat", "--init-groups", "--"]
        check = run(as_tcpchat + ["/usr/sbin/tcpchatd", "-t", "-c", "/etc/tcpchat/tcpchatd.conf"])
        assert check.returncode == 0, check.stdout + check.stderr
        port = free_port()
        log = open("tcpchatd.log", "w+")
        proc = subprocess.Popen(
            as_tcpchat + ["/usr/sbin/tcpchatd", "-c", "/etc/tcpchat/tcpchatd.conf",
                          "--data-dir", "/var/lib/tcpchat", "--bind", "127.0.0.1",
                          "--port", str(port), "--http-port", "0"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            deadline = time.time() + TIMEOUT
            while True:
                assert proc.poll() is None, "tcpchatd exited: " + open("tcpchatd.log").read()
                try:
                    Client(port).close()
                    break
                except OSError:
                    assert time.time() < deadline, "tcpchatd did not start listening"
                    time.sleep(0.05)
            with open("/proc/%d/status" % proc.pid) as f:
                uid = next(l for l in f if l.startswith("Uid:")).split()[1:]
            assert uid == [str(user.pw_uid)] * 4, uid
            motd = motd_of(port, "pkgtest")
            assert motd == expected_motd() and any("tcpchat" in l for l in motd), motd
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=TIMEOUT)
        assert rc == 0, open("tcpchatd.log").read()
        # its store is in the data directory, owned by the user
        assert os.stat("/var/lib/tcpchat/history.db").st_uid == user.pw_uid

        # remove keeps the config and the data; purge takes them
        dpkg("--remove", PKG)
        assert package_state() == "config-files"
        assert not os.path.exists("/usr/sbin/tcpchatd")
        assert os.path.isfile("/etc/tcpchat/tcpchatd.conf")
        assert os.path.isfile("/var/lib/tcpchat/history.db")
        dpkg("--purge", PKG)
        assert package_state() == "gone"
        for f in FILES + ["/etc/tcpchat", "/var/lib/tcpchat", WANTS]:
            assert not os.path.lexists(f), f
    finally:
        if package_state() != "gone":
            run(["dpkg", "--purge", PKG], timeout=10 * TIMEOUT)
