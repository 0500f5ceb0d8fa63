"""Issue 20: installing tcpchat. `make install` (PREFIX, DESTDIR) puts the binaries, the man
pages, the example config, the systemd unit, and the service's config and default MOTD in
/etc/tcpchat in place, and `make uninstall` takes them out (the config only when unchanged);
the man pages pass `mandoc -Tlint` and list exactly the options each program's --help lists;
the unit passes `systemd-analyze verify`."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, TIMEOUT

PAGES = {"tcpchatd": "man/tcpchatd.8", "tcpchat": "man/tcpchat.1",
         "tcpchat-bench": "man/tcpchat-bench.1"}
INSTALLED = ["usr/bin/tcpchat", "usr/bin/tcpchat-bench", "usr/sbin/tcpchatd",
             "usr/share/man/man1/tcpchat.1", "usr/share/man/man1/tcpchat-bench.1",
             "usr/share/man/man5/tcpchatd.conf.5", "usr/share/man/man8/tcpchatd.8",
             "usr/share/doc/tcpchat/tcpchatd.conf.example",
             "usr/lib/systemd/system/tcpchatd.service",
             "etc/tcpchat/tcpchatd.conf", "etc/tcpchat/tcpchatd.motd"]


def make(*args):
    p = subprocess.run(["make", "-C", ROOT, "SAN="] + list(args), capture_output=True,
                       text=True, timeout=10 * TIMEOUT)
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def options(text, pattern):
    return set(re.findall(pattern, text))


@pytest.mark.parametrize("program", sorted(PAGES))
def test_man_page_lists_the_options_of_help(program):
    """Every option --help shows is in the man page, and the man page has no other."""
    binary = os.path.join(ROOT, "build", program)
    helptext = subprocess.run([binary, "--help"], capture_output=True, text=True,
                              timeout=TIMEOUT)
    helptext = helptext.stdout + helptext.stderr
    page = open(os.path.join(ROOT, PAGES[program])).read()
    in_help = options(helptext, r"(?<![\w-])(--[a-z][a-z0-9-]*)")
    in_page = {"-" + o for o in options(page, r"\bFl (-[a-z][a-z0-9-]*)")}
    assert in_help and in_help == in_page, (sorted(in_help - in_page), sorted(in_page - in_help))


def test_man_pages_pass_mandoc_lint():
    if not shutil.which("mandoc"):
        pytest.skip("mandoc is not installed (scripts/deps.sh installs it)")
    pages = [os.path.join(ROOT, "man", p) for p in sorted(os.listdir(os.path.join(ROOT, "man")))]
    p = subprocess.run(["mandoc", "-Tlint", "-W", "warning"] + pages, capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert p.returncode == 0 and not p.stdout.strip(), p.stdout + p.stderr


def test_make_install_and_uninstall(tmp_path):
    dest = tmp_path / "root"
    make("install", "DESTDIR=%s" % dest, "PREFIX=/usr")
    for f in INSTALLED:
        assert (dest / f).is_file(), f
    version = subprocess.run([str(dest / "usr/sbin/tcpchatd"), "--version"],
                             capture_output=True, text=True, timeout=TIMEOUT)
    assert version.returncode == 0 and "tcpchat" in version.stdout + version.stderr
    unit = (dest / "usr/lib/systemd/system/tcpchatd.service").read_text()
    assert "Type=notify" in unit and "ExecStart=/usr/sbin/tcpchatd " in unit
    # the installed server checks the example config
    check = subprocess.run([str(dest / "usr/sbin/tcpchatd"), "-t", "-c",
                            str(dest / "usr/share/doc/tcpchat/tcpchatd.conf.example")],
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert check.returncode == 0, check.stdout + check.stderr
    # the installed config names the installed MOTD (here under DESTDIR, so given again)
    conf = (dest / "etc/tcpchat/tcpchatd.conf").read_text()
    assert "\nmotd = /etc/tcpchat/tcpchatd.motd\n" in conf
    assert "--config /etc/tcpchat/tcpchatd.conf " in unit
    assert (dest / "etc/tcpchat/tcpchatd.conf").stat().st_mode & 0o777 == 0o640
    check = subprocess.run([str(dest / "usr/sbin/tcpchatd"), "-t", "-c",
                            str(dest / "etc/tcpchat/tcpchatd.conf"),
                            "--motd", str(dest / "etc/tcpchat/tcpchatd.motd")],
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert check.returncode == 0, check.stdout + check.stderr
    if shutil.which("systemd-analyze"):
        # verify wants the binary where ExecStart says: a copy pointing into DESTDIR
        copy = tmp_path / "tcpchatd.service"
        copy.write_text(unit.replace("/usr/sbin/tcpchatd", str(dest / "usr/sbin/tcpchatd")))
        v = subprocess.run(["systemd-analyze", "verify", "--man=no", str(copy)],
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert v.returncode == 0, v.stdout + v.stderr
    make("uninstall", "DESTDIR=%s" % dest, "PREFIX=/usr")
    left = [str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()]
    assert left == [], left


def test_install_keeps_the_operators_config(tmp_path):
    """The config and MOTD in /etc/tcpchat are the operator's once installed: a second
    install leaves an edited one alone, and uninstall keeps it (removing the unchanged MOTD)."""
    dest = tmp_path / "root"
    make("install", "DESTDIR=%s" % dest, "PREFIX=/usr")
    conf = dest / "etc/tcpchat/tcpchatd.conf"
    edited = conf.read_text().replace("default-channel = #lobby", "default-channel = #home")
    assert edited != conf.read_text()
    conf.write_text(edited)
    make("install", "DESTDIR=%s" % dest, "PREFIX=/usr")
    assert conf.read_text() == edited
    p = make("uninstall", "DESTDIR=%s" % dest, "PREFIX=/usr")
    assert "kept %s" % conf in p.stdout
    left = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert left == ["etc/tcpchat/tcpchatd.conf"], left
    assert conf.read_text() == edited
