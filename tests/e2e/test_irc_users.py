"""Protocol tests for the user and server queries: MODE on nicks, WHO, WHOIS, ISON, USERHOST,
AWAY, LUSERS, VERSION, TIME, MOTD, the 005 (ISUPPORT) tokens and rfc1459 case mapping. Each
reply is checked parameter by parameter against the Modern IRC client protocol document
(https://modern.ircdocs.horse), RFC 2812 where Modern IRC is silent."""
import re
import time

import pytest

from conftest import (ANY, PEER, Client, Msg, is_command, isupport, join, no_reply, reply,
                      run, take_until, tcpchatd_only, want)


def event(user, command, *params):
    try:
        return Msg(user.expect(is_command(command, None, *params)))
    except AssertionError:
        raise AssertionError("%s never received %s %s" % (user.nick, command, " ".join(params)))


def seen_or_event(user, seen, command, *params):
    """The `command` among seen (lines a barrier already consumed), else the next one."""
    for m in seen:
        if is_command(command, None, *params)(m.line):
            return m
    return event(user, command, *params)


# ---------------------------------------------------------------------------------------------
# MODE on nicks

def test_user_mode_query_221_and_set_i_w(ircd, irc_user):
    a = irc_user("alice")
    m = reply(a, run(a, "MODE alice"), "221", "alice", ANY)
    assert m.params[1].startswith("+"), m.line
    start = set(m.params[1][1:])
    seen = run(a, "MODE alice +i")
    m = seen_or_event(a, seen, "MODE", "alice")
    assert m.nick == "alice", m.line
    want(m, "MODE", "alice", "+i")
    seen = run(a, "MODE alice +w")
    want(seen_or_event(a, seen, "MODE", "alice"), "MODE", "alice", "+w")
    m = reply(a, run(a, "MODE alice"), "221", "alice", ANY)
    assert set(m.params[1][1:]) == start | {"i", "w"}, m.line
    seen = run(a, "MODE alice -i")
    want(seen_or_event(a, seen, "MODE", "alice"), "MODE", "alice", "-i")
    m = reply(a, run(a, "MODE alice"), "221", "alice", ANY)
    assert set(m.params[1][1:]) == (start | {"w"}) - {"i"}, m.line


def test_user_mode_of_another_nick_502_unknown_flag_501(ircd, irc_user):
    a = irc_user("alice")
    irc_user("bob")
    reply(a, run(a, "MODE bob +i"), "502", "alice", ANY)
    reply(a, run(a, "MODE bob"), "502", "alice", ANY)
    seen = run(a, "MODE alice +Z")
    reply(a, seen, "501", "alice", ANY)
    no_reply(seen, "MODE")


def test_user_mode_unknown_nick_401(ircd, irc_user):
    a = irc_user("alice")
    reply(a, run(a, "MODE nobody"), "401", "alice", "nobody", ANY)


# ---------------------------------------------------------------------------------------------
# WHO

def test_who_channel_352_flags_and_315(ircd, irc_user):
    a = irc_user("alice", "ualice", "Alice Liddell")
    b = irc_user("bob", "ubob", "Bob the Builder")
    c = irc_user("carol")
    join(a, "#t")
    join(b, "#t")
    join(c, "#t")
    a.send("MODE #t +v bob")
    event(b, "MODE", "#t")
    c.send("AWAY :lunch")
    c.expect(lambda l: Msg(l).command == "306")
    seen = run(a, "WHO #t")
    rows = {m.params[5]: m for m in seen if m.command == "352"}
    assert set(rows) == {"alice", "bob", "carol"}, [m.line for m in seen]
    for u, flags in ((a, "H@"), (b, "H+"), (c, "G")):
        user, host = u.userhost.split("@")
        want(rows[u.nick], "352", "alice", "#t", user, host, ircd.name, u.nick, flags,
             "0 " + u.realname)
    end = reply(a, seen, "315", "alice", "#t", ANY)
    assert seen.index(end) > max(seen.index(m) for m in rows.values())


def test_who_nick_352_and_315(ircd, irc_user):
    a = irc_user("alice")
    b = irc_user("bob", "ubob", "Bob the Builder")
    join(b, "#t")  # to learn bob's user@host
    seen = run(a, "WHO bob")
    user, host = b.userhost.split("@")
    rows = [m for m in seen if m.command == "352"]
    assert len(rows) == 1, [m.line for m in seen]
    m = want(rows[0], "352", "alice", ANY, user, host, ircd.name, "bob", ANY, "0 Bob the Builder")
    # <channel>: one of bob's channels or "*"; flags H, "@" only with a channel given.
    assert m.params[1] in ("*", "#t"), m.line
    assert m.params[6] in ("H", "H@"), m.line
    reply(a, seen, "315", "alice", "bob", ANY)


def test_who_unknown_is_just_315(ircd, irc_user):
    a = irc_user("alice")
    seen = run(a, "WHO nobody")
    no_reply(seen, "352")
    reply(a, seen, "315", "alice", "nobody", ANY)


def who_nicks(seen):
    return sorted(m.params[5] for m in seen if m.command == "352")


def test_who_masks_name_only_the_users_they_match(ircd, irc_user):
    """Modern IRC WHO: "<mask>" is matched against nicknames (wildcards * and ?); every
    matching user is listed, and only those."""
    a = irc_user("alice")
    for nick in ("cool1", "cool22", "other"):
        irc_user(nick)
    assert who_nicks(run(a, "WHO cool*")) == ["cool1", "cool22"]
    assert who_nicks(run(a, "WHO cool?")) == ["cool1"]
    assert who_nicks(run(a, "WHO COOL1")) == ["cool1"]
    assert who_nicks(run(a, "WHO *")) == ["alice", "cool1", "cool22", "other"]
    seen = run(a, "WHO *!*@*")
    assert who_nicks(seen) == ["alice", "cool1", "cool22", "other"]
    reply(a, seen, "315", "alice", "*!*@*", ANY)


def test_who_lists_invisible_users_only_to_those_sharing_a_channel(ircd, irc_user):
    """Modern IRC, user mode +i: an invisible user is not listed by WHO to users who do not
    share a channel with them."""
    a = irc_user("alice")
    b = irc_user("bob")
    inv = irc_user("inv")
    inv.send("MODE inv +i")
    event(inv, "MODE", "inv")
    join(inv, "#hide")
    assert who_nicks(run(a, "WHO inv")) == []
    assert who_nicks(run(a, "WHO *")) == ["alice", "bob"]
    assert who_nicks(run(a, "WHO #hide")) == []  # not a member of #hide
    assert who_nicks(run(inv, "WHO inv")) == ["inv"]  # oneself
    join(a, "#hide")
    assert who_nicks(run(a, "WHO inv")) == ["inv"]
    assert who_nicks(run(a, "WHO #hide")) == ["alice", "inv"]
    assert who_nicks(run(b, "WHO #hide")) == ["alice"]


@tcpchatd_only
def test_whox_returns_exactly_the_fields_asked_in_order(ircd, irc_user):
    """IRCv3 WHOX: 354 with the requested fields in the fixed order t c u i h s n f d l a o r,
    one line per user."""
    a = irc_user("alice")
    b = irc_user("bob", "ubob", "Bob the Builder")
    join(b, "#t")
    user, host = b.userhost.split("@")
    seen = run(a, "WHO bob %tcuihsnfdlaor,42")
    rows = [m for m in seen if m.command == "354"]
    assert len(rows) == 1, [m.line for m in seen]
    assert rows[0].params == ["alice", "42", ANY, user, ANY, host, ircd.name, "bob", "H", "0",
                              "0", "0", ANY, "Bob the Builder"], rows[0].line
    seen = run(a, "WHO bob %nfa")
    assert [m.params for m in seen if m.command == "354"] == [["alice", "bob", "H", "0"]]


# ---------------------------------------------------------------------------------------------
# WHOIS

def test_whois_311_312_319_318(ircd, irc_user):
    a = irc_user("alice")
    b = irc_user("bob", "ubob", "Bob the Builder")
    join(b, "#one")
    join(a, "#two")
    join(b, "#two")
    a.send("MODE #two +v bob")
    event(b, "MODE", "#two")
    seen = run(a, "WHOIS bob")
    user, host = b.userhost.split("@")
    reply(a, seen, "311", "alice", "bob", user, host, "*", "Bob the Builder")
    reply(a, seen, "312", "alice", "bob", ircd.name, ANY)
    m = reply(a, seen, "319", "alice", "bob", ANY)
    assert sorted(m.text.split()) == ["+#two", "@#one"], m.line
    no_reply(seen, "301")
    end = reply(a, seen, "318", "alice", "bob", ANY)
    assert end is seen[-1] or all(x.command not in ("311", "312", "319")
                                  for x in seen[seen.index(end):]), [x.line for x in seen]


def test_whois_away_user_301(ircd, irc_user):
    a = irc_user("alice")
    b = irc_user("bob")
    b.send("AWAY :gone fishing")
    b.expect(lambda l: Msg(l).command == "306")
    seen = run(a, "WHOIS bob")
    reply(a, seen, "301", "alice", "bob", "gone fishing")
    reply(a, seen, "318", "alice", "bob", ANY)


def test_whois_unknown_nick_401_then_318(ircd, irc_user):
    a = irc_user("alice")
    seen = run(a, "WHOIS nobody")
    reply(a, seen, "401", "alice", "nobody", ANY)
    reply(a, seen, "318", "alice", "nobody", ANY)
    assert [m.command for m in seen].index("401") < [m.command for m in seen].index("318")


def test_nick_lookup_is_case_insensitive_and_exact_in_length(ircd, irc_user):
    long_nick = "Abcdefghij[klmnopqrstuvwxyz]01"  # 30 characters: the longest nick (NICKLEN)
    a = irc_user("alice")
    irc_user(long_nick)
    # Found under any rfc1459 case: A-Z and []\^ fold to a-z and {}|~.
    seen = run(a, "WHOIS " + long_nick.lower().replace("[", "{").replace("]", "}"))
    reply(a, seen, "311", "alice", long_nick, ANY, ANY, ANY, ANY)
    # A longer name that starts with the nick is somebody else: nobody.
    seen = run(a, "WHOIS " + long_nick + "xyz")
    reply(a, seen, "401", "alice", long_nick + "xyz", ANY)


def test_whois_without_nick_431(ircd, irc_user):
    a = irc_user("alice")
    reply(a, run(a, "WHOIS"), "431", "alice", ANY)


# ---------------------------------------------------------------------------------------------
# ISON, USERHOST, AWAY

def test_ison_303(ircd, irc_user):
    a = irc_user("alice")
    irc_user("bob")
    m = reply(a, run(a, "ISON bob nobody alice"), "303", "alice", ANY)
    assert m.text.split() == ["bob", "alice"], m.line
    m = reply(a, run(a, "ISON nobody"), "303", "alice", ANY)
    assert m.text.strip() == "", m.line
    reply(a, run(a, "ISON"), "461", "alice", "ISON", ANY)


def test_userhost_302_and_away_marker(ircd, irc_user):
    a = irc_user("alice")
    b = irc_user("bob", "ubob")
    join(a, "#t")
    join(b, "#t")
    m = reply(a, run(a, "USERHOST alice bob nobody"), "302", "alice", ANY)
    assert m.text.split() == ["alice=+" + a.userhost, "bob=+" + b.userhost], m.line
    b.send("AWAY :brb")
    b.expect(lambda l: Msg(l).command == "306")
    m = reply(a, run(a, "USERHOST bob"), "302", "alice", ANY)
    assert m.text.split() == ["bob=-" + b.userhost], m.line
    reply(a, run(a, "USERHOST"), "461", "alice", "USERHOST", ANY)


def test_away_306_301_on_privmsg_and_305(ircd, irc_user):
    a = irc_user("alice")
    b = irc_user("bob")
    reply(b, run(b, "AWAY :out for lunch"), "306", "bob", ANY)
    seen = run(a, "PRIVMSG bob :are you there?")
    reply(a, seen, "301", "alice", "bob", "out for lunch")
    # The message is still delivered.
    m = event(b, "PRIVMSG", "bob")
    assert m.nick == "alice" and m.text == "are you there?", m.line
    reply(b, run(b, "AWAY"), "305", "bob", ANY)
    no_reply(run(a, "PRIVMSG bob :back?"), "301")
    # NOTICE never triggers an automatic reply.
    b.send("AWAY :again")
    b.expect(lambda l: Msg(l).command == "306")
    no_reply(run(a, "NOTICE bob :fyi"), "301")


def test_away_shows_in_who_as_g(ircd, irc_user):
    a = irc_user("alice")
    join(a, "#t")
    a.send("AWAY :x")
    a.expect(lambda l: Msg(l).command == "306")
    m = reply(a, run(a, "WHO #t"), "352", "alice", "#t", ANY, ANY, ANY, "alice", ANY, ANY)
    assert m.params[6] == "G@", m.line


# ---------------------------------------------------------------------------------------------
# LUSERS, VERSION, TIME, MOTD, ISUPPORT

def test_lusers(ircd, irc_user):
    a = irc_user("alice")
    irc_user("bob")
    irc_user("carol")
    join(a, "#t")
    seen = run(a, "LUSERS")
    m = reply(a, seen, "251", "alice", ANY)
    if PEER:  # ngircd words 251 and 255 its own way ("... and 0 services ...")
        return
    n = re.match(r"There (?:is|are) (\d+) users? and (\d+) invisible on (\d+) servers?$",
                 m.text)
    assert n and int(n.group(1)) + int(n.group(2)) == 3, m.line
    if any(x.command == "252" for x in seen):
        reply(a, seen, "252", "alice", ANY, ANY)
    reply(a, seen, "254", "alice", "1", ANY)
    m = reply(a, seen, "255", "alice", ANY)
    assert re.match(r"I have 3 clients and 0 servers$", m.text), m.line


def test_version_351_then_005(ircd, irc_user):
    a = irc_user("alice")
    seen = run(a, "VERSION")
    m = reply(a, seen, "351", "alice", ANY, ircd.name, ANY)
    assert m.params[1], m.line
    cmds = [x.command for x in seen]
    assert "005" in cmds and cmds.index("351") < cmds.index("005"), [x.line for x in seen]


def test_time_391(ircd, irc_user):
    a = irc_user("alice")
    seen = run(a, "TIME")
    m = [x for x in seen if x.command == "391"]
    assert m, [x.line for x in seen]
    m = m[0]
    assert len(m.params) >= 3 and m.params[:2] == ["alice", ircd.name], m.line
    assert m.text.strip(), m.line
    if len(m.params) >= 4:  # optional unix timestamp
        assert abs(int(m.params[2]) - time.time()) < 5, m.line


def test_motd_command(ircd_factory, irc_user):
    srv = ircd_factory(motd="first line\nsecond line\n")
    a = irc_user("alice", srv=srv)
    seen = run(a, "MOTD")
    reply(a, seen, "375", "alice", ANY)
    lines = [x for x in seen if x.command == "372"]
    assert len(lines) == 2, [x.line for x in seen]
    for x in lines:
        want(x, "372", "alice", ANY)
    assert "first line" in lines[0].text and "second line" in lines[1].text
    reply(a, seen, "376", "alice", ANY)


@tcpchatd_only
def test_motd_missing_422(ircd, irc_user):
    a = irc_user("alice")
    reply(a, run(a, "MOTD"), "422", "alice", ANY)


@tcpchatd_only
def test_isupport_tokens(ircd):
    c = Client(ircd.port, None)
    try:
        c.send("NICK alice")
        c.send("USER alice 0 * :Alice")
        lines = take_until(c, lambda l: Msg(l).command in ("376", "422"))
    finally:
        c.close()
    for l in lines:
        m = Msg(l)
        if m.command == "005":
            # At most 13 tokens a line; the last parameter is the human text.
            assert 2 <= len(m.params) <= 15 and m.params[-1].startswith("are supported"), l
    tok = isupport(lines)
    assert tok.get("CASEMAPPING") == "rfc1459", tok
    assert tok.get("PREFIX") == "(ov)@+", tok
    groups = tok.get("CHANMODES", "").split(",")
    assert len(groups) == 4, tok
    assert "k" in groups[1] and "l" in groups[2], tok
    assert set("imnst") <= set(groups[3]), tok
    for key in ("MODES", "TOPICLEN", "KICKLEN", "AWAYLEN"):
        assert str(tok.get(key, "")).isdigit() and int(tok[key]) > 0, (key, tok)
    assert "MAXTARGETS" in tok or "TARGMAX" in tok, tok
    if "TARGMAX" in tok:
        targ = dict(t.partition(":")[::2] for t in tok["TARGMAX"].split(","))
        assert "PRIVMSG" in targ, tok


# ---------------------------------------------------------------------------------------------
# rfc1459 case mapping: {}|~ are the lower case of []\^

@tcpchatd_only
@pytest.mark.parametrize("first,second", [("Foo[", "foo{"), ("a\\b", "A|B"), ("Q]", "q}")])
def test_casemapping_nick_collision(ircd, irc_user, first, second):
    """(~ is not allowed in nicks (RFC 2812 "special"), so ^/~ is tested on channels.)"""
    irc_user(first)
    c = Client(ircd.port, None)
    try:
        c.send("NICK " + second)
        c.send("USER x 0 * :x")
        line = c.expect(lambda l: Msg(l).command == "001" or Msg(l).command[0] in "45")
        want(line, "433", "*", second, ANY)
    finally:
        c.close()


@tcpchatd_only
def test_casemapping_nick_change_and_privmsg(ircd, irc_user):
    a = irc_user("Foo[")
    b = irc_user("bob")
    reply(b, run(b, "NICK FOO{"), "433", "bob", "FOO{", ANY)
    b.send("PRIVMSG foo{ :folded")
    m = event(a, "PRIVMSG")
    assert m.nick == "bob" and m.text == "folded", m.line
    # A user may change the case of their own nick.
    seen = run(a, "NICK foo{")
    no_reply(seen, "433")
    want(seen_or_event(a, seen, "NICK"), "NICK", "foo{")


@tcpchatd_only
def test_casemapping_channel(ircd, irc_user):
    a = irc_user("alice")
    b = irc_user("bob")
    join(a, "#A[b")
    lines = join(b, "#a{B")
    event(a, "JOIN")
    names = [m for m in lines if m.command == "353"]
    assert names and sorted(n.lstrip("@") for n in names[0].text.split()) == ["alice", "bob"], \
        [m.line for m in lines]
    b.send("PRIVMSG #A{B :same room")
    m = event(a, "PRIVMSG")
    assert m.text == "same room", m.line
    seen = run(a, "MODE #a{b")
    reply(a, seen, "324", "alice", ANY, ANY)
    seen = run(a, "WHOIS bob")
    m = reply(a, seen, "319", "alice", "bob", ANY)
    assert m.text.split() == ["#A[b"], m.line  # shown as first created
    # ^ and ~ are the same letter too.
    join(a, "#x^y")
    lines = join(b, "#X~Y")
    event(a, "JOIN", "#x^y")
    names = [m for m in lines if m.command == "353"]
    assert names and sorted(n.lstrip("@") for n in names[0].text.split()) == ["alice", "bob"], \
        [m.line for m in lines]
