/* cmd_mode: MODE, for channels (the flags i m n s t, the key, the limit, ops and voices, the
 * +b/+e/+I lists) and for one's own user modes (i, w, and -o). A channel's modes are read and
 * changed under its lock (chan-t.h); the changes that took effect go to every member as one
 * MODE line, in the channel's order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state/chan-t.h"
#include "state/chan.h"
#include "state/chan_net.h"
#include "common/log.h"
#include "core/client.h"
#include "cmd.h"
#include "core/event.h"
#include "state/nick.h"
#include "core/send.h"
#include "store/history.h"

/* Channel modes without a parameter (CHANMODES type D). */
static const struct {
    char letter;
    unsigned bit;
} flag_modes[] = {{'C', CM_NOCTCP},     {'i', CM_INVITE}, {'m', CM_MODERATED},
                  {'n', CM_NOEXTERNAL}, {'s', CM_SECRET}, {'t', CM_TOPICLOCK}};

/* The list modes (CHANMODES type A), in LIST_* order. */
static const struct {
    char letter;
    int item; /* RPL_BANLIST and its kin (one format for the three) */
} list_modes[LIST_KINDS] = {
    {'b', NUM(RPL_BANLIST)},
    {'e', NUM(RPL_EXCEPTLIST)},
    {'I', NUM(RPL_INVITELIST)},
};

/* The one rule of which letters take an argument: the lists, the key, ops and voices always
 * (CHANMODES types A and B, PREFIX), the limit only when set (type C). */
static int takes_arg(char letter, int adding)
{
    return strchr("beIkov", letter) || (letter == 'l' && adding);
}

static int list_kind(char letter)
{
    for (int i = 0; i < LIST_KINDS; i++) {
        if (list_modes[i].letter == letter)
            return i;
    }
    return -1;
}

static unsigned flag_bit(char letter)
{
    for (size_t i = 0; i < sizeof flag_modes / sizeof flag_modes[0]; i++) {
        if (flag_modes[i].letter == letter)
            return flag_modes[i].bit;
    }
    return 0;
}

/* Turns "nick", "user@host" or "nick!user" into a full nick!user@host mask; the mute
 * extban's "m:" prefix stays in front. */
static void mask_normalise(const char *in, char *out, size_t cap)
{
    if (strncmp(in, "m:", 2) == 0 && in[2] && cap > 2) {
        out[0] = 'm';
        out[1] = ':';
        mask_normalise(in + 2, out + 2, cap - 2);
        return;
    }
    const char *bang = strchr(in, '!'), *at = strchr(in, '@');
    if (bang && at)
        snprintf(out, cap, "%s", in);
    else if (at)
        snprintf(out, cap, "*!%s", in);
    else if (bang)
        snprintf(out, cap, "%s@*", in);
    else
        snprintf(out, cap, "%s!*@*", in);
}

/* A list query: anyone may look at bans; exceptions and invexes are ops' business (as on
 * most servers), but members see them too here, which hides nothing. */
static void list_show(struct client *c, const struct chan *ch, int kind)
{
    const struct mask_list *l = &ch->lists[kind];
    for (int i = 0; i < l->n; i++)
        send_numeric(c, list_modes[kind].item, TEXT(RPL_BANLIST), chan_name(ch), l->v[i].mask,
                     l->v[i].set_by, (long long)l->v[i].set_at);
    if (kind == LIST_BAN)
        send_reply(c, RPL_ENDOFBANLIST, chan_name(ch));
    else if (kind == LIST_EXCEPT)
        send_reply(c, RPL_ENDOFEXCEPTLIST, chan_name(ch));
    else
        send_reply(c, RPL_ENDOFINVITELIST, chan_name(ch));
}

/* The channel's modes as "+ntkl key limit"; the key only for members. */
static void mode_string(const struct chan *ch, int show_key, char *out, size_t cap)
{
    size_t n = 0;
    out[n++] = '+';
    for (size_t i = 0; i < sizeof flag_modes / sizeof flag_modes[0]; i++) {
        if (ch->modes & flag_modes[i].bit)
            out[n++] = flag_modes[i].letter;
    }
    if (ch->chkey[0])
        out[n++] = 'k';
    if (ch->limit)
        out[n++] = 'l';
    out[n] = '\0';
    if (ch->chkey[0])
        n += (size_t)snprintf(out + n, cap - n, " %s", show_key ? ch->chkey : "*");
    if (ch->limit)
        snprintf(out + n, cap - n, " %u", ch->limit);
}

static int key_valid(const char *key)
{
    size_t n = strlen(key);
    return n > 0 && n <= KEY_MAX && strcspn(key, " ,:") == n;
}

/* The MODE line being built from the changes that took effect. */
struct mode_change {
    char modes[2 * MODES_PER_LINE + 16];
    size_t nmodes;
    char sign;
    char args[IRC_LINE_MAX];
    size_t nargs;
};

/* Appends one applied change to the MODE line being built. */
static void change_add(struct mode_change *mc, char sign, char letter, const char *arg)
{
    if (mc->nmodes + 3 >= sizeof mc->modes)
        return;
    if (mc->sign != sign) {
        mc->modes[mc->nmodes++] = sign;
        mc->sign = sign;
    }
    mc->modes[mc->nmodes++] = letter;
    mc->modes[mc->nmodes] = '\0';
    if (arg && mc->nargs + strlen(arg) + 2 < sizeof mc->args)
        mc->nargs +=
            (size_t)snprintf(mc->args + mc->nargs, sizeof mc->args - mc->nargs, " %s", arg);
}

/* Sets the key (+k a) or clears it (-k, any argument). */
static void key_change(struct client *c, struct chan *ch, struct mode_change *mc, int adding,
                       const char *a)
{
    if (!adding) {
        if (ch->chkey[0]) {
            ch->chkey[0] = '\0';
            change_add(mc, '-', 'k', a);
        }
    } else if (ch->chkey[0]) {
        send_reply(c, ERR_KEYSET, chan_name(ch));
    } else if (!key_valid(a)) {
        send_reply(c, ERR_INVALIDKEY, chan_name(ch));
    } else {
        snprintf(ch->chkey, sizeof ch->chkey, "%s", a);
        change_add(mc, '+', 'k', a);
    }
}

/* Sets the member limit (+l a, from 1 to a million) or clears it (-l). */
static void limit_change(struct chan *ch, struct mode_change *mc, int adding, const char *a)
{
    if (!adding) {
        if (ch->limit) {
            ch->limit = 0;
            change_add(mc, '-', 'l', NULL);
        }
        return;
    }
    char *end;
    long v = strtol(a, &end, 10);
    if (*end == '\0' && v > 0 && v <= 1000000) {
        ch->limit = (unsigned)v;
        change_add(mc, '+', 'l', a);
    }
}

/* Notes a change the network must hear of besides the settings (a list entry, a status). */
static void edit_add(struct chan_change *chg, char sign, char letter, uint64_t id, const char *mask,
                     const char *set_by, long long set_at)
{
    if (chg->nedits < (int)(sizeof chg->edits / sizeof chg->edits[0]))
        chg->edits[chg->nedits++] = (struct chan_edit){.sign = sign,
                                                       .letter = letter,
                                                       .id = id,
                                                       .mask = mask,
                                                       .set_by = set_by,
                                                       .set_at = set_at};
}

/* Gives or takes ops (o) or voice (v) of the member with id (0: no such nick, a). */
static void status_change(struct client *c, struct chan *ch, struct mode_change *mc,
                          struct chan_change *chg, int adding, char letter, const char *a,
                          uint64_t id)
{
    struct member *t = id ? chan_member(ch, id) : NULL;
    if (!id) {
        send_reply(c, ERR_NOSUCHNICK, a);
    } else if (!t) {
        send_reply(c, ERR_USERNOTINCHANNEL, a, chan_name(ch));
    } else {
        if (letter == 'o')
            t->op = adding;
        else
            t->voice = adding;
        change_add(mc, adding ? '+' : '-', letter, t->nick);
        edit_add(chg, adding ? '+' : '-', letter, t->id, NULL, NULL, 0);
    }
}

/* Sends the changes made to ch (locked) as one MODE line from source to its members, the
 * event store and the network. */
static void publish(struct server *srv, struct chan *ch, const char *source,
                    const struct mode_change *mc, struct chan_change *chg)
{
    if (mc->nmodes == 0)
        return;
    struct event *m =
        event_new(NULL, ":%s MODE %s %s%s", source, chan_name(ch), mc->modes, mc->args);
    if (m) {
        chan_post(srv, ch, m, 0);
        history_store_event(srv, m, chan_key(ch)); /* draft/event-playback */
        chg->ev = m;
        chan_net_publish(srv, chg);
    }
    event_unref(m);
}

/* MODE on a channel: params[0] the mode string (nparams 0: a query), then its arguments.
 * With override (SAMODE), c counts as one of the channel's operators, member or not. */
static void channel_mode(struct client *c, const char *name, int nparams, char **params,
                         int override)
{
    struct server *srv = client_srv(c);
    /* Nick arguments are looked up before the channel is locked (the nick table comes first
     * in the lock order). */
    uint64_t ids[IRC_PARAMS_MAX] = {0};
    const char *modes = nparams > 0 ? params[0] : NULL;
    int arg = 1, adding = 1;
    for (const char *p = modes; p && *p && arg < nparams; p++) {
        if (*p == '+' || *p == '-') {
            adding = *p == '+';
        } else if (takes_arg(*p, adding)) {
            int w;
            if ((*p == 'o' || *p == 'v') && nick_find(srv, params[arg], &w, &ids[arg]) < 0)
                ids[arg] = 0;
            arg++;
        }
    }
    struct chan *ch = chan_lock_name(srv, name);
    if (!ch) {
        send_reply(c, ERR_NOSUCHCHANNEL, name);
        return;
    }
    struct member *me = chan_member(ch, c->id);
    int op = override || (me && me->op);
    if (!modes) {
        char buf[128];
        mode_string(ch, me != NULL || override, buf, sizeof buf);
        send_reply(c, RPL_CHANNELMODEIS, chan_name(ch), buf);
        send_reply(c, RPL_CREATIONTIME, chan_name(ch), (long long)ch->created);
        chan_unlock(ch);
        return;
    }
    struct mode_change mc = {.sign = 0};
    struct chan *chs[1] = {ch};
    struct chan_change chg = {.kind = CC_META, .chans = chs, .nchans = 1};
    /* The masks of the list edits, kept for chg until it is published. */
    char masks[MODES_PER_LINE][MASK_MAX + 1];
    time_t now = time(NULL);
    int with_args = 0, denied = 0, listed = 0;
    arg = 1;
    adding = 1;
    for (const char *p = modes; *p; p++) {
        char letter = *p;
        if (letter == '+' || letter == '-') {
            adding = letter == '+';
            continue;
        }
        int kind = list_kind(letter);
        if (kind >= 0 && arg >= nparams) {
            /* One list per MODE, as other servers do: "MODE #c bbbb..." must not multiply a
             * long list by the length of the line. */
            if (!listed++)
                list_show(c, ch, kind);
            continue;
        }
        unsigned bit = flag_bit(letter);
        if (!bit && !takes_arg(letter, 1)) {
            send_reply(c, ERR_UNKNOWNMODE, letter);
            continue;
        }
        int with_arg = takes_arg(letter, adding);
        if (with_arg && arg >= nparams) {
            if (adding || letter != 'k')
                send_reply(c, ERR_NEEDMOREPARAMS, "MODE");
            else if (op && ch->chkey[0]) {
                ch->chkey[0] = '\0'; /* "-k" without the key still clears it */
                change_add(&mc, '-', 'k', "*");
                chg.meta |= CHAN_META_KEY;
            }
            continue;
        }
        const char *a = with_arg ? params[arg] : ""; /* "": the letter takes none */
        int ai = arg;
        if (with_arg)
            arg++;
        if (!op) {
            if (!denied && me)
                send_reply(c, ERR_CHANOPRIVSNEEDED, chan_name(ch));
            else if (!denied)
                send_reply(c, ERR_NOTONCHANNEL, chan_name(ch));
            denied = 1;
            continue;
        }
        if (with_arg && ++with_args > MODES_PER_LINE)
            continue;
        if (kind >= 0) {
            char mask[MASK_MAX + 1];
            char *kept = masks[with_args - 1]; /* the mask as set, or as it was set */
            mask_normalise(a, mask, sizeof mask);
            snprintf(kept, MASK_MAX + 1, "%s", mask);
            if (chan_list_edit(ch, kind, adding, mask, c->source, now, kept) == 0) {
                change_add(&mc, adding ? '+' : '-', letter, kept);
                edit_add(&chg, adding ? '+' : '-', letter, 0, kept, c->source, now);
            } else if (adding && ch->lists[kind].n >= LIST_MAX) {
                send_reply(c, ERR_BANLISTFULL, chan_name(ch), letter);
            }
        } else if (bit) {
            if (adding != !!(ch->modes & bit)) {
                ch->modes = adding ? ch->modes | bit : ch->modes & ~bit;
                change_add(&mc, adding ? '+' : '-', letter, NULL);
                chg.meta |= CHAN_META_MODES;
            }
        } else if (letter == 'k') {
            key_change(c, ch, &mc, adding, a);
            chg.meta |= CHAN_META_KEY;
        } else if (letter == 'l') {
            limit_change(ch, &mc, adding, a);
            chg.meta |= CHAN_META_LIMIT;
        } else {
            status_change(c, ch, &mc, &chg, adding, letter, a, ids[ai]);
        }
    }
    publish(srv, ch, c->source, &mc, &chg);
    chan_unlock(ch);
}

int cmd_mode_service(struct server *srv, const char *name, const char *nick, char letter)
{
    int w;
    uint64_t id;
    if (nick_find(srv, nick, &w, &id) < 0)
        return -1;
    struct chan *ch = chan_lock_name(srv, name);
    struct member *t = ch ? chan_member(ch, id) : NULL;
    if (t && !(letter == 'o' ? t->op : t->voice)) {
        struct mode_change mc = {.sign = 0};
        struct chan *chs[1] = {ch};
        struct chan_change chg = {.kind = CC_META, .chans = chs, .nchans = 1};
        if (letter == 'o')
            t->op = 1;
        else
            t->voice = 1;
        change_add(&mc, '+', letter, t->nick);
        edit_add(&chg, '+', letter, t->id, NULL, NULL, 0);
        publish(srv, ch, CHANSERV_SOURCE, &mc, &chg);
    }
    if (ch)
        chan_unlock(ch);
    return t ? 0 : -1;
}

/* MODE for a nick: only one's own, and only +i and +w are the user's to set. */
static void user_mode(struct client *c, struct ircmsg *m)
{
    struct server *srv = client_srv(c);
    if (ircname_cmp(m->params[0], c->nick) != 0) {
        struct nick_info info;
        if (nick_info(srv, m->params[0], &info) < 0 || !info.registered)
            send_reply(c, ERR_NOSUCHNICK, m->params[0]);
        else
            send_reply(c, ERR_USERSDONTMATCH);
        return;
    }
    struct nick_info me;
    if (nick_info(srv, c->nick, &me) < 0)
        return;
    if (m->nparams < 2) {
        send_reply(c, RPL_UMODEIS, me.bot ? "B" : "", me.invisible ? "i" : "", me.oper ? "o" : "",
                   me.wallops ? "w" : "");
        return;
    }
    int adding = 1, invisible = -1, wallops = -1, bot = -1, unknown = 0;
    char applied[32];
    size_t n = 0;
    char sign = 0;
    for (const char *p = m->params[1]; *p; p++) {
        if (*p == '+' || *p == '-') {
            adding = *p == '+';
            continue;
        }
        int *slot = *p == 'i' ? &invisible : *p == 'w' ? &wallops : *p == 'B' ? &bot : NULL;
        if (*p == 'o' && !adding) {
            /* De-opering oneself; +o only comes from OPER (and is silently ignored here). */
            if (me.oper && n + 3 < sizeof applied) {
                if (sign != '-')
                    applied[n++] = sign = '-';
                applied[n++] = 'o';
                me.oper = 0;
                nick_set_oper(srv, c->nick, c->id, 0);
            }
            continue;
        }
        if (*p == 'o')
            continue;
        if (!slot) {
            unknown = 1;
            continue;
        }
        int was = *p == 'i' ? me.invisible : *p == 'w' ? me.wallops : me.bot;
        if (was != adding && *slot != adding && n + 3 < sizeof applied) {
            if (sign != (adding ? '+' : '-'))
                applied[n++] = sign = adding ? '+' : '-';
            applied[n++] = *p;
        }
        *slot = adding;
    }
    applied[n] = '\0';
    if (unknown)
        send_reply(c, ERR_UMODEUNKNOWNFLAG);
    nick_set_modes(srv, c->nick, c->id, invisible, wallops, bot);
    cmd_user_changed(c);
    if (wallops >= 0)
        c->wallops = wallops != 0;
    if (bot >= 0)
        c->bot = bot != 0;
    if (n)
        send_line(c, ":%s MODE %s :%s", c->nick, c->nick, applied);
}

void cmd_mode(struct client *c, struct ircmsg *m)
{
    if (ircname_is_channel(m->params[0]))
        channel_mode(c, m->params[0], m->nparams - 1, m->params + 1, 0);
    else
        user_mode(c, m);
}

void cmd_samode(struct client *c, struct ircmsg *m)
{
    if (!cmd_need_oper(c))
        return;
    if (!ircname_is_channel(m->params[0])) {
        send_reply(c, ERR_NOSUCHCHANNEL, m->params[0]);
        return;
    }
    if (m->nparams < 2) { /* a query needs no override */
        channel_mode(c, m->params[0], 0, m->params + 1, 1);
        return;
    }
    char args[IRC_LINE_MAX + 1];
    size_t n = 0;
    for (int i = 1; i < m->nparams && n < sizeof args; i++) {
        int w = snprintf(args + n, sizeof args - n, "%s%s", i > 1 ? " " : "", m->params[i]);
        if (w < 0)
            break;
        n += (size_t)w;
    }
    log_event(LOG_INFO, "operator override", LOG_TEXT("oper", c->source),
              LOG_TEXT("command", "SAMODE"), LOG_TEXT("channel", m->params[0]),
              LOG_TEXT("modes", args));
    channel_mode(c, m->params[0], m->nparams - 1, m->params + 1, 1);
}
