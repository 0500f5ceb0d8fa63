"""IRCv3 draft/message-redaction (https://ircv3.net/specs/extensions/message-redaction, work
in progress: the draft/ cap name per its notes): REDACT of one's own message and, by a
channel operator, of anyone's in the channel; the REDACT relayed only to clients with the
capability; the message gone from CHATHISTORY; FAIL REDACT_FORBIDDEN and UNKNOWN_MSGID."""
from conftest import Client, Msg, barrier, is_command, is_numeric, take_until, cap_ls
from test_accounts import register
from test_history import HISTORY_CAPS, history
from test_ircv3 import cap_client, tags_of

CAPS = HISTORY_CAPS + " echo-message draft/message-redaction"


def say(c, target, text):
    """c (with echo-message) says text; returns the msgid of its echo."""
    c.send("PRIVMSG %s :%s" % (target, text))
    return tags_of(c.expect(lambda l: Msg(l).command == "PRIVMSG" and Msg(l).text == text))[
        "msgid"]


def fail_of(c):
    return Msg(c.expect(lambda l: Msg(l).command in ("FAIL", "REDACT")))


def test_redaction_offered_only_with_history(server_factory):
    for args, offered in (((), True), (("--history", "off"), False)):
        srv = server_factory(*args)
        c = Client(srv.port, None)
        c.send("CAP LS 302")
        assert ("draft/message-redaction" in cap_ls(c)) == offered
        srv.stop()


def test_redact_own_and_as_operator_relayed_to_capable_clients_only(server):
    """"If the client is authorised to delete the message, the server SHOULD forward this
    REDACT, with an appropriate prefix, to the target recipients which negotiated the
    draft/message-redaction capability, in the same way as PRIVMSG messages [and] MUST not
    forward this REDACT to target recipients which did not"; "After a message is redacted,
    chathistory responses SHOULD [...] exclude it entirely" (Chat history). Errors:
    "FAIL REDACT REDACT_FORBIDDEN <target> <target-msgid> :..." and "FAIL REDACT
    UNKNOWN_MSGID <target> <target-msgid> ..." (Errors); who may: one's own messages, and a
    channel operator anyone's ("Allowing channel moderators [...] to delete unwelcome
    messages from others", Server implementation considerations)."""
    alice = cap_client(server.port, "alice", CAPS)
    bob = cap_client(server.port, "bob", CAPS)
    carol = cap_client(server.port, "carol", HISTORY_CAPS)
    for c in (alice, bob, carol):
        c.send("JOIN #r")
        take_until(c, is_numeric("366"))
    barrier(alice)
    oops = say(alice, "#r", "oops")
    keep = say(alice, "#r", "keep this")
    spam = say(bob, "#r", "spam")
    for c in (alice, bob, carol):
        barrier(c)

    alice.send("REDACT #r %s :typo" % oops)
    for c in (alice, bob):
        m = Msg(c.expect(is_command("REDACT")))
        assert m.prefix.startswith("alice!") and m.params == ["#r", oops, "typo"], m.line
    assert not [l for l in barrier(carol) if "REDACT" in l]
    # Not an operator: bob may not delete alice's message.
    bob.send("REDACT #r " + keep)
    m = fail_of(bob)
    assert m.params[:4] == ["REDACT", "REDACT_FORBIDDEN", "#r", keep], m.line
    # alice created #r and is its operator: she may delete bob's, without a reason.
    alice.send("REDACT #r " + spam)
    for c in (alice, bob):
        m = Msg(c.expect(is_command("REDACT")))
        assert m.prefix.startswith("alice!") and m.params == ["#r", spam], m.line
    # Gone from the history, for everyone; the rest stays.
    assert [x.text for x in history(carol, "LATEST #r * 10")] == ["keep this"]
    # Already gone, or never there.
    for msgid in (oops, "no-such-id"):
        alice.send("REDACT #r " + msgid)
        m = fail_of(alice)
        assert m.params[:4] == ["REDACT", "UNKNOWN_MSGID", "#r", msgid], m.line
    # A channel one is not in: refused the same whether it exists or not.
    dave = cap_client(server.port, "dave", CAPS)
    for chan in ("#r", "#nowhere"):
        dave.send("REDACT %s %s" % (chan, keep))
        m = fail_of(dave)
        assert m.params[:3] == ["REDACT", "REDACT_FORBIDDEN", chan], m.line


def test_redact_a_private_message(server):
    """A private message may be deleted by its sender (known by account, as its history is);
    the REDACT goes to both parties with the capability, and the message leaves their
    conversation's history; the other party may not delete it."""
    alice = register(server, "alice", caps=CAPS)
    bob = register(server, "bob", caps=CAPS)
    hello = say(alice, "bob", "hello bob")
    bye = say(alice, "bob", "bye bob")
    bob.expect(lambda l: "bye bob" in l)
    bob.send("REDACT alice " + hello)
    m = fail_of(bob)
    assert m.params[:4] == ["REDACT", "REDACT_FORBIDDEN", "alice", hello], m.line
    alice.send("REDACT bob %s :wrong window" % hello)
    for c in (alice, bob):
        m = Msg(c.expect(is_command("REDACT")))
        assert m.prefix.startswith("alice!") and m.params == ["bob", hello, "wrong window"]
    assert [x.text for x in history(bob, "LATEST alice * 10")] == ["bye bob"]
    del bye


def test_labeled_redact_gets_its_answer_labeled(server):
    """IRCv3 labeled-response: the server's response to a labeled command carries the label
    (here, after the store has checked it: the asker's REDACT, or the FAIL), and no ACK
    comes before it."""
    alice = cap_client(server.port, "alice", CAPS)
    bob = cap_client(server.port, "bob", CAPS)
    msgid = say(alice, "#lobby", "take it back")
    alice.send("@label=r1 REDACT #lobby %s :sorry" % msgid)
    line = alice.expect(lambda l: Msg(l).command in ("REDACT", "ACK", "FAIL"))
    assert Msg(line).command == "REDACT" and tags_of(line)["label"] == "r1", line
    assert Msg(line).params == ["#lobby", msgid, "sorry"]
    assert "label" not in tags_of(bob.expect(is_command("REDACT")))
    alice.send("@label=r2 REDACT #lobby " + msgid)
    line = alice.expect(lambda l: Msg(l).command in ("REDACT", "ACK", "FAIL"))
    assert Msg(line).params[:2] == ["REDACT", "UNKNOWN_MSGID"] and \
        tags_of(line)["label"] == "r2", line
