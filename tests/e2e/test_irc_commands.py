"""Protocol tests for the channel commands: TOPIC, MODE (channel), KICK, INVITE, NAMES prefixes
and LIST. Each reply is checked parameter by parameter against the Modern IRC client protocol
document (https://modern.ircdocs.horse), RFC 2812 where Modern IRC is silent.

The server runs without an auto-joined channel (see conftest.ircd_factory), so the only
channels are the ones a test creates. Direct replies are read up to a PING barrier (no waiting
for a timeout when the server answers something else); relayed events are waited for."""
import time

from conftest import (ANY, PEER, Msg, is_command, join, names, no_reply, reply, run, take_until,
                      tcpchatd_only, want)


def event(user, command, *params):
    """Waits for the next `command` from the server or a user whose leading params are
    params (case-insensitive); returns it as Msg."""
    try:
        return Msg(user.expect(is_command(command, None, *params)))
    except AssertionError:
        raise AssertionError("%s never received %s %s" % (user.nick, command, " ".join(params)))


def channel_with(irc_user, *nicks, chan="#t"):
    """Users nicks[0] (op, creator), nicks[1:] joined to chan in that order; every one has
    seen every JOIN. Returns the users."""
    users = [irc_user(n) for n in nicks]
    for i, u in enumerate(users):
        join(u, chan)
        if i == 0 and PEER:
            # ngircd creates channels without modes; tcpchatd's are +nt (tested below).
            u.send("MODE %s +nt" % chan)
            event(u, "MODE", chan)
        for other in users[:i]:
            event(other, "JOIN", chan)
    return users


def mode_letters(modestring):
    assert modestring.startswith("+"), modestring
    return set(modestring[1:])


# ---------------------------------------------------------------------------------------------
# TOPIC

def test_topic_query_without_topic_is_331(ircd, irc_user):
    a, = channel_with(irc_user, "alice")
    reply(a, run(a, "TOPIC #t"), "331", "alice", "#t", ANY)


def test_topic_set_is_relayed_to_every_member_and_queried_with_332_333(ircd, irc_user):
    a, b = channel_with(irc_user, "alice", "bob")
    before = int(time.time())
    a.send("TOPIC #t :the new topic")
    for u in (a, b):
        m = event(u, "TOPIC", "#t")
        assert m.prefix == a.source, m.line
        want(m, "TOPIC", "#t", "the new topic")
    seen = run(b, "TOPIC #t")
    reply(b, seen, "332", "bob", "#t", "the new topic")
    m = reply(b, seen, "333", "bob", "#t", ANY, ANY)
    # <nick> who set it (a full nick!user@host is common and allowed), <setat> unix time.
    assert m.params[2] in ("alice", a.source), m.line
    assert before - 2 <= int(m.params[3]) <= time.time() + 2, m.line


def test_topic_is_shown_to_joiners_with_332_333(ircd, irc_user):
    a, = channel_with(irc_user, "alice")
    a.send("TOPIC #t :welcome here")
    event(a, "TOPIC", "#t")
    b = irc_user("bob")
    lines = join(b, "#t")
    cmds = [m.command for m in lines]
    assert "332" in cmds and "333" in cmds, [m.line for m in lines]
    assert cmds.index("332") < cmds.index("333") < cmds.index("366"), cmds
    want(lines[cmds.index("332")], "332", "bob", "#t", "welcome here")
    m = want(lines[cmds.index("333")], "333", "bob", "#t", ANY, ANY)
    assert m.params[2] in ("alice", a.source) and m.params[3].isdigit(), m.line
    no_reply(lines, "331")


def test_topic_empty_text_clears_it(ircd, irc_user):
    a, = channel_with(irc_user, "alice")
    a.send("TOPIC #t :something")
    event(a, "TOPIC", "#t")
    a.send("TOPIC #t :")
    want(event(a, "TOPIC", "#t"), "TOPIC", "#t", "")
    reply(a, run(a, "TOPIC #t"), "331", "alice", "#t", ANY)


def test_topic_set_needs_membership_442(ircd, irc_user):
    a, = channel_with(irc_user, "alice")
    b = irc_user("bob")
    reply(b, run(b, "TOPIC #t :from outside"), "442", "bob", "#t", ANY)
    # Nothing changed.
    reply(a, run(a, "TOPIC #t"), "331", "alice", "#t", ANY)


def test_topic_plus_t_needs_op_482_and_minus_t_lets_members_set_it(ircd, irc_user):
    a, b = channel_with(irc_user, "alice", "bob")
    seen = run(b, "TOPIC #t :not allowed")
    reply(b, seen, "482", "bob", "#t", ANY)
    no_reply(seen, "TOPIC")
    a.send("MODE #t -t")
    event(b, "MODE", "#t")
    b.send("TOPIC #t :allowed now")
    for u in (a, b):
        m = event(u, "TOPIC", "#t")
        assert m.nick == "bob", m.line
        want(m, "TOPIC", "#t", "allowed now")


def test_topic_errors_403_and_461(ircd, irc_user):
    a = irc_user("alice")
    reply(a, run(a, "TOPIC #nowhere"), "403", "alice", "#nowhere", ANY)
    reply(a, run(a, "TOPIC"), "461", "alice", "TOPIC", ANY)


# ---------------------------------------------------------------------------------------------
# MODE on channels

@tcpchatd_only
def test_new_channel_is_plus_nt_creator_is_op_324_329(ircd, irc_user):
    before = int(time.time())
    a, b = channel_with(irc_user, "alice", "bob")
    assert names(b, "#t") == {"alice": "@", "bob": ""}
    seen = run(b, "MODE #t")
    m = reply(b, seen, "324", "bob", "#t", ANY)
    assert mode_letters(m.params[2]) == {"n", "t"}, m.line
    m = reply(b, seen, "329", "bob", "#t", ANY)
    assert before - 2 <= int(m.params[2]) <= time.time() + 2, m.line


def test_mode_o_v_broadcast_and_names_prefixes(ircd, irc_user):
    a, b, c = channel_with(irc_user, "alice", "bob", "carol")
    a.send("MODE #t +o bob")
    for u in (a, b, c):
        m = event(u, "MODE", "#t")
        assert m.prefix == a.source, m.line
        want(m, "MODE", "#t", "+o", "bob")
    a.send("MODE #t +v carol")
    for u in (a, b, c):
        want(event(u, "MODE", "#t"), "MODE", "#t", "+v", "carol")
    assert names(c, "#t") == {"alice": "@", "bob": "@", "carol": "+"}
    # bob is an op now and may change modes himself.
    b.send("MODE #t -v carol")
    for u in (a, b, c):
        m = event(u, "MODE", "#t")
        assert m.nick == "bob", m.line
        want(m, "MODE", "#t", "-v", "carol")
    a.send("MODE #t -o bob")
    for u in (a, b, c):
        want(event(u, "MODE", "#t"), "MODE", "#t", "-o", "bob")
    assert names(a, "#t") == {"alice": "@", "bob": "", "carol": ""}
    # Not an op any more.
    reply(b, run(b, "MODE #t +m"), "482", "bob", "#t", ANY)


def test_mode_change_needs_op_482(ircd, irc_user):
    a, b = channel_with(irc_user, "alice", "bob")
    for change in ("+m", "+o bob", "-t", "+k key"):
        seen = run(b, "MODE #t " + change)
        reply(b, seen, "482", "bob", "#t", ANY)
        no_reply(seen, "MODE")
    m = reply(b, run(b, "MODE #t"), "324", "bob", "#t", ANY)
    assert mode_letters(m.params[2]) == {"n", "t"}, m.line


def test_mode_o_errors_441_401_and_unknown_mode_472(ircd, irc_user):
    a, = channel_with(irc_user, "alice")
    irc_user("carol")  # exists, not on #t
    reply(a, run(a, "MODE #t +o carol"), "441", "alice", "carol", "#t", ANY)
    reply(a, run(a, "MODE #t +v carol"), "441", "alice", "carol", "#t", ANY)
    reply(a, run(a, "MODE #t +o nobody"), "401", "alice", "nobody", ANY)
    reply(a, run(a, "MODE #t +Z"), "472", "alice", "Z", ANY)
    reply(a, run(a, "MODE"), "461", "alice", "MODE", ANY)


@tcpchatd_only
def test_mode_unknown_channel_403(ircd, irc_user):
    """Modern IRC: MODE on a channel that does not exist is 403 (ngircd answers 401)."""
    a = irc_user("alice")
    reply(a, run(a, "MODE #nowhere"), "403", "alice", "#nowhere", ANY)
    reply(a, run(a, "MODE #nowhere +m"), "403", "alice", "#nowhere", ANY)


@tcpchatd_only
def test_mode_missing_parameter_461(ircd, irc_user):
    """461 for +k/+l/+o/+v without their parameter (this slice's contract; ngircd ignores
    such a change silently)."""
    a, = channel_with(irc_user, "alice")
    for change in ("+k", "+l", "+o", "+v"):
        seen = run(a, "MODE #t " + change)
        reply(a, seen, "461", "alice", "MODE", ANY)
        no_reply(seen, "MODE")
    m = reply(a, run(a, "MODE #t"), "324", "alice", "#t", ANY)
    assert mode_letters(m.params[2]) == {"n", "t"}, m.line


def test_mode_flags_show_in_324(ircd, irc_user):
    a, b = channel_with(irc_user, "alice", "bob")
    a.send("MODE #t +ims")
    m = event(b, "MODE", "#t")
    assert m.params[1][0] == "+" and set(m.params[1][1:]) == {"i", "m", "s"}, m.line
    m = reply(b, run(b, "MODE #t"), "324", "bob", "#t", ANY)
    assert mode_letters(m.params[2]) == {"i", "m", "n", "s", "t"}, m.line
    a.send("MODE #t -ims")
    event(b, "MODE", "#t")
    m = reply(b, run(b, "MODE #t"), "324", "bob", "#t", ANY)
    assert mode_letters(m.params[2]) == {"n", "t"}, m.line


def test_mode_i_invite_only_473_until_invited(ircd, irc_user):
    a, = channel_with(irc_user, "alice")
    b = irc_user("bob")
    a.send("MODE #t +i")
    want(event(a, "MODE", "#t"), "MODE", "#t", "+i")
    reply(b, run(b, "JOIN #t"), "473", "bob", "#t", ANY)
    a.send("INVITE bob #t")
    event(b, "INVITE")
    join(b, "#t")
    event(a, "JOIN", "#t")


def test_mode_k_key_475_without_or_with_wrong_key(ircd, irc_user):
    a, = channel_with(irc_user, "alice")
    b = irc_user("bob")
    a.send("MODE #t +k sekrit")
    m = event(a, "MODE", "#t")
    assert m.prefix == a.source, m.line
    want(m, "MODE", "#t", "+k", "sekrit")
    m = reply(a, run(a, "MODE #t"), "324", "alice", "#t", ANY, "sekrit")
    assert mode_letters(m.params[2]) == {"k", "n", "t"}, m.line
    reply(b, run(b, "JOIN #t"), "475", "bob", "#t", ANY)
    reply(b, run(b, "JOIN #t wrong"), "475", "bob", "#t", ANY)
    join(b, "#t", "sekrit")
    event(a, "JOIN", "#t")


def test_mode_k_again_is_467_or_replaces_the_key(ircd, irc_user):
    """467 ERR_KEYSET is optional (RFC 2812); Modern IRC servers may just replace the key."""
    a, = channel_with(irc_user, "alice")
    a.send("MODE #t +k one")
    event(a, "MODE", "#t")
    seen = run(a, "MODE #t +k two")
    errs = [m for m in seen if m.command == "467"]
    if errs:
        want(errs[0], "467", "alice", "#t", ANY)
        reply(a, run(a, "MODE #t"), "324", "alice", "#t", ANY, "one")
    else:
        echo = [m for m in seen if m.command == "MODE"] or [event(a, "MODE", "#t")]
        want(echo[0], "MODE", "#t", "+k", "two")


def test_mode_minus_k_removes_the_key(ircd, irc_user):
    a, = channel_with(irc_user, "alice")
    b = irc_user("bob")
    a.send("MODE #t +k sekrit")
    event(a, "MODE", "#t")
    a.send("MODE #t -k sekrit")
    m = event(a, "MODE", "#t")
    assert m.params[1] == "-k", m.line
    m = reply(a, run(a, "MODE #t"), "324", "alice", "#t", ANY)
    assert mode_letters(m.params[2]) == {"n", "t"}, m.line
    join(b, "#t")


def test_mode_l_limit_471_when_full(ircd, irc_user):
    a, = channel_with(irc_user, "alice")
    b = irc_user("bob")
    c = irc_user("carol")
    a.send("MODE #t +l 2")
    want(event(a, "MODE", "#t"), "MODE", "#t", "+l", "2")
    m = reply(a, run(a, "MODE #t"), "324", "alice", "#t", ANY, "2")
    assert mode_letters(m.params[2]) == {"l", "n", "t"}, m.line
    join(b, "#t")
    reply(c, run(c, "JOIN #t"), "471", "carol", "#t", ANY)
    a.send("MODE #t -l")
    want(event(a, "MODE", "#t"), "MODE", "#t", "-l")
    join(c, "#t")


def test_mode_m_moderated_404_unless_voiced_or_op(ircd, irc_user):
    a, b, c = channel_with(irc_user, "alice", "bob", "carol")
    a.send("MODE #t +m")
    for u in (a, b, c):
        want(event(u, "MODE", "#t"), "MODE", "#t", "+m")
    reply(b, run(b, "PRIVMSG #t :muted"), "404", "bob", "#t", ANY)
    # The op speaks; carol gets it but never bob's muted line.
    a.send("PRIVMSG #t :op speaks")
    m = event(c, "PRIVMSG", "#t")
    assert m.nick == "alice" and m.text == "op speaks", m.line
    a.send("MODE #t +v bob")
    event(b, "MODE", "#t")
    no_reply(run(b, "PRIVMSG #t :voiced now"), "404")
    m = event(c, "PRIVMSG", "#t")
    assert m.nick == "bob" and m.text == "voiced now", m.line


def test_mode_n_no_external_messages_404_and_minus_n(ircd, irc_user):
    a, = channel_with(irc_user, "alice")
    out = irc_user("outsider")
    reply(out, run(out, "PRIVMSG #t :from outside"), "404", "outsider", "#t", ANY)
    a.send("MODE #t -n")
    event(a, "MODE", "#t")
    no_reply(run(out, "PRIVMSG #t :outside allowed"), "404")
    m = event(a, "PRIVMSG", "#t")
    assert m.nick == "outsider" and m.text == "outside allowed", m.line


def test_mode_C_refuses_ctcp_but_action_404(ircd, irc_user):
    """Modern IRC, "No CTCP Channel Mode" (+C): no CTCP to the channel except ACTION; a
    blocked message gets ERR_CANNOTSENDTOCHAN (404). CHANMODES and 004 list it."""
    a, b = channel_with(irc_user, "alice", "bob")
    a.send("MODE #t +C")
    event(b, "MODE", "#t")
    reply(a, run(a, "PRIVMSG #t :\x01VERSION\x01"), "404", "alice", "#t", ANY)
    no_reply(run(a, "NOTICE #t :\x01PING 1\x01"), "404")  # NOTICE: dropped, no reply
    no_reply(run(a, "PRIVMSG #t :\x01ACTION waves\x01"), "404")
    m = Msg(b.expect(lambda l: Msg(l).command in ("PRIVMSG", "NOTICE")))
    assert (m.command, m.text) == ("PRIVMSG", "\x01ACTION waves\x01"), m.line
    no_reply(run(a, "PRIVMSG bob :\x01VERSION\x01"), "404")  # to a user: not the channel's
    a.send("MODE #t")
    assert "C" in Msg(a.expect(lambda l: Msg(l).command == "324")).params[2]
    a.send("MODE #t -C")
    event(b, "MODE", "#t")
    no_reply(run(a, "PRIVMSG #t :\x01VERSION\x01"), "404")


def test_mute_extban_m_silences_but_lets_join(ircd, irc_user):
    """Modern IRC, EXTBAN: ISUPPORT EXTBAN=,m; "+b m:<mask>" (Ergo's mute) lets a matching
    user join and read but not speak (404), unless voiced or excepted (+e)."""
    a, b = channel_with(irc_user, "alice", "bob")
    a.send("MODE #t +b m:bob")  # normalised like any ban mask
    m = event(b, "MODE", "#t")
    assert m.params[1:] == ["+b", "m:bob!*@*"], m.line
    reply(b, run(b, "PRIVMSG #t :hello?"), "404", "bob", "#t", ANY)
    a.send("PRIVMSG #t :you can read")
    assert event(b, "PRIVMSG", "#t").text == "you can read"
    b.send("PART #t")
    event(a, "PART", "#t")
    join(b, "#t")  # a mute is not a ban
    event(a, "JOIN", "#t")
    a.send("MODE #t +e m:bob!*@*")
    event(b, "MODE", "#t")
    no_reply(run(b, "PRIVMSG #t :heard again"), "404")
    assert event(a, "PRIVMSG", "#t").text == "heard again"


def test_mode_s_secret_hidden_from_list_and_whois_of_non_members(ircd, irc_user):
    a, b = channel_with(irc_user, "alice", "bob")
    out = irc_user("outsider")
    join(a, "#open")
    a.send("MODE #t +s")
    event(b, "MODE", "#t")
    # LIST: outsider sees #open only; member bob sees both.
    chans = [m.params[1] for m in run(out, "LIST") if m.command == "322"]
    assert "#t" not in chans and "#open" in chans, chans
    chans = [m.params[1] for m in run(b, "LIST") if m.command == "322"]
    assert "#t" in chans and "#open" in chans, chans
    # WHOIS alice: outsider is not shown #t; bob is.
    seen = run(out, "WHOIS alice")
    m = reply(out, seen, "319", "outsider", "alice", ANY)
    assert m.text.split() == ["@#open"], m.line
    m = reply(b, run(b, "WHOIS alice"), "319", "bob", "alice", ANY)
    assert sorted(m.text.split()) == ["@#open", "@#t"], m.line
    # NAMES marks a secret channel with "@" (Modern IRC RPL_NAMREPLY symbol; ngircd
    # keeps "=").
    if not PEER:
        reply(b, run(b, "NAMES #t"), "353", "bob", "@", "#t", ANY)


# ---------------------------------------------------------------------------------------------
# KICK

def test_kick_relayed_to_all_and_the_user_is_really_out(ircd, irc_user):
    a, b, c = channel_with(irc_user, "alice", "bob", "carol")
    a.send("KICK #t bob :behave")
    for u in (a, b, c):
        m = event(u, "KICK", "#t")
        assert m.prefix == a.source, m.line
        want(m, "KICK", "#t", "bob", "behave")
    reply(b, run(b, "PRIVMSG #t :still here?"), "404", "bob", "#t", ANY)
    assert names(c, "#t") == {"alice": "@", "carol": ""}
    # Channel traffic no longer reaches bob.
    c.send("PRIVMSG #t :after kick")
    event(a, "PRIVMSG", "#t")
    a.send("PRIVMSG bob :marker")
    seen = [Msg(l) for l in take_lines(b, "PRIVMSG", "bob")]
    assert not [m for m in seen if m.command == "PRIVMSG" and m.params[0] == "#t"], seen
    # He may come back.
    join(b, "#t")
    event(a, "JOIN", "#t")
    assert names(a, "#t") == {"alice": "@", "bob": "", "carol": ""}


def take_lines(user, command, target):
    return take_until(user, is_command(command, None, target))


def test_kick_without_reason_still_kicks(ircd, irc_user):
    a, b = channel_with(irc_user, "alice", "bob")
    a.send("KICK #t bob")
    for u in (a, b):
        m = event(u, "KICK", "#t")
        assert m.params[:2] == ["#t", "bob"] and len(m.params) == 3, m.line
    assert names(a, "#t") == {"alice": "@"}


def test_kick_of_several_nicks_kicks_each_with_a_kick_line_each(ircd, irc_user):
    """Modern IRC, KICK: "KICK <channel> <user> *( "," <user> ) [<comment>]"; the server
    "MUST NOT send them more than one user in a KICK message", so each one kicked is a KICK
    line of its own, in the order given, with the comment; a nick not on the channel gets its
    441 and the others are kicked all the same."""
    a, b, c, d = channel_with(irc_user, "alice", "bob", "carol", "dave")
    irc_user("erin")
    seen = run(a, "KICK #t bob,erin,carol :both of you")
    reply(a, seen, "441", "alice", "erin", "#t", ANY)
    # The kicker's own KICK lines may arrive before its barrier's PONG or after it.
    mine = [m for m in seen if m.command == "KICK"]
    mine += [event(a, "KICK", "#t") for _ in range(2 - len(mine))]
    for kicks in (mine, [event(d, "KICK", "#t") for _ in range(2)]):
        assert [m.params for m in kicks] == [["#t", "bob", "both of you"],
                                              ["#t", "carol", "both of you"]], kicks
        assert all(m.prefix == a.source for m in kicks)
    for u in (b, c):
        want(event(u, "KICK", "#t", u.nick), "KICK", "#t", u.nick, "both of you")
    assert names(d, "#t") == {"alice": "@", "dave": ""}


def test_kick_by_non_op_482(ircd, irc_user):
    a, b = channel_with(irc_user, "alice", "bob")
    seen = run(b, "KICK #t alice :coup")
    reply(b, seen, "482", "bob", "#t", ANY)
    no_reply(seen, "KICK")
    assert names(b, "#t") == {"alice": "@", "bob": ""}


def test_kick_errors_441_442_403_461(ircd, irc_user):
    a, b = channel_with(irc_user, "alice", "bob")
    c = irc_user("carol")
    reply(a, run(a, "KICK #t carol :not here"), "441", "alice", "carol", "#t", ANY)
    reply(c, run(c, "KICK #t bob :outsider"), "442", "carol", "#t", ANY)
    reply(a, run(a, "KICK #nowhere bob"), "403", "alice", "#nowhere", ANY)
    reply(a, run(a, "KICK #t"), "461", "alice", "KICK", ANY)
    assert names(a, "#t") == {"alice": "@", "bob": ""}


# ---------------------------------------------------------------------------------------------
# INVITE

def test_invite_341_and_invite_message(ircd, irc_user):
    a, = channel_with(irc_user, "alice")
    b = irc_user("bob")
    reply(a, run(a, "INVITE bob #t"), "341", "alice", "bob", "#t")
    m = event(b, "INVITE")
    assert m.prefix == a.source, m.line
    want(m, "INVITE", "bob", "#t")


def test_invite_errors_443_442_401_461(ircd, irc_user):
    a, b = channel_with(irc_user, "alice", "bob")
    c = irc_user("carol")
    reply(a, run(a, "INVITE bob #t"), "443", "alice", "bob", "#t", ANY)
    reply(c, run(c, "INVITE alice #t"), "442", "carol", "#t", ANY)
    reply(a, run(a, "INVITE nobody #t"), "401", "alice", "nobody", ANY)
    reply(a, run(a, "INVITE bob"), "461", "alice", "INVITE", ANY)


def test_invite_to_invite_only_channel_needs_op_482(ircd, irc_user):
    a, b = channel_with(irc_user, "alice", "bob")
    c = irc_user("carol")
    a.send("MODE #t +i")
    event(b, "MODE", "#t")
    seen = run(b, "INVITE carol #t")
    reply(b, seen, "482", "bob", "#t", ANY)
    reply(c, run(c, "JOIN #t"), "473", "carol", "#t", ANY)
    # On a channel without +i any member may invite (Modern IRC).
    a.send("MODE #t -i")
    event(b, "MODE", "#t")
    reply(b, run(b, "INVITE carol #t"), "341", "bob", "carol", "#t")
    want(event(c, "INVITE"), "INVITE", "carol", "#t")


def test_invite_lets_user_pass_plus_i_once_invited(ircd, irc_user):
    a, = channel_with(irc_user, "alice")
    b = irc_user("bob")
    a.send("MODE #t +i")
    event(a, "MODE", "#t")
    reply(b, run(b, "JOIN #t"), "473", "bob", "#t", ANY)
    reply(a, run(a, "INVITE bob #t"), "341", "alice", "bob", "#t")
    want(event(b, "INVITE"), "INVITE", "bob", "#t")
    lines = join(b, "#t")
    assert names(b, "#t") == {"alice": "@", "bob": ""}, [m.line for m in lines]


# ---------------------------------------------------------------------------------------------
# LIST

def test_list_counts_topics_and_glob_mask(ircd, irc_user):
    a, b = channel_with(irc_user, "alice", "bob", chan="#bar")
    join(a, "#baz")
    join(a, "#other")
    a.send("TOPIC #bar :bar topic")
    event(a, "TOPIC", "#bar")
    seen = run(b, "LIST")
    # (Only "#" channels: ngircd adds its "&SERVER".)
    rows = {m.params[1]: m for m in seen if m.command == "322" and m.params[1][0] == "#"}
    assert set(rows) == {"#bar", "#baz", "#other"}, [m.line for m in seen]
    want(rows["#bar"], "322", "bob", "#bar", "2", "bar topic")
    want(rows["#baz"], "322", "bob", "#baz", "1", ANY)
    want(rows["#other"], "322", "bob", "#other", "1", ANY)
    for m in seen:
        if m.command == "321":
            want(m, "321", "bob", "Channel", ANY)
    end = reply(b, seen, "323", "bob", ANY)
    assert seen.index(end) > max(seen.index(m) for m in rows.values())
    # A glob mask.
    seen = run(b, "LIST #b*")
    assert sorted(m.params[1] for m in seen if m.command == "322") == ["#bar", "#baz"], \
        [m.line for m in seen]
    reply(b, seen, "323", "bob", ANY)
    # An exact name, and several comma separated.
    seen = run(b, "LIST #other")
    assert [m.params[1] for m in seen if m.command == "322"] == ["#other"]
    seen = run(b, "LIST #other,#bar")
    assert sorted(m.params[1] for m in seen if m.command == "322") == ["#bar", "#other"]
