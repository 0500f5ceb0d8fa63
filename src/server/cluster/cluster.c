/* cluster: the node's Redis side. See cluster.h for the shape, docs/cluster.md for the keys,
 * the events and what each failure does. */
#include "cluster.h"

#include <errno.h>
#include <limits.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "common/ircmsg.h"
#include "common/ircname.h"
#include "common/log.h"
#include "common/redis_url.h"
#include "core/event.h"
#include "core/fanout.h"
#include "core/hash.h"
#include "core/loop.h"
#include "core/server.h"
#include "pack.h"
#include "quits.h"
#include "state/chan-t.h"
#include "store/account.h"
#include "store/ban.h"
#include "store/chanreg.h"
#include "store/history.h"
#include "store/redis_conn.h"
#include "state/chan.h"
#include "state/chan_net.h"
#include "state/nick.h"
#include "state/whowas.h"

/* --- the scripts: each one step of the network's state, with its event ------------------- */

/* A netstring in Lua, for the events the scripts build themselves (pack.h). */
#define LUA_NS "local function ns(s) return #s .. ':' .. s .. ',' end "

enum {
    S_CLAIM,
    S_RELEASE,
    S_USER,
    S_PM,
    S_BEAT,
    S_LEAVE,
    S_REAPNICKS,
    S_SNAP,
    S_CHAN,
    S_REAPCHANS,
    S_PMFILL,
    S_GHOSTS,
    S_LEFT,
    S_BAN,
    S_CREG,
    S_COUNT
};

static const char *const scripts[S_COUNT] = {
    /* S_CLAIM: KEYS nick key, the node's nick set; ARGV "node:id", folded nick. 1 if granted
     * (free, or already this client's), 0 if someone else holds it. */
    "local cur = redis.call('GET', KEYS[1]) "
    "if cur and cur ~= ARGV[1] then return 0 end "
    "redis.call('SET', KEYS[1], ARGV[1]) redis.call('SADD', KEYS[2], ARGV[2]) return 1",
    /* S_RELEASE: the same keys and arguments; frees the nick only if that client holds it. */
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "redis.call('DEL', KEYS[1]) redis.call('SREM', KEYS[2], ARGV[2]) end return 1",
    /* S_USER: KEYS the node's user directory; ARGV 'U' or 'Q', client id, the user's facts
     * (packed), the event. The directory and the event change together. */
    "if ARGV[1] == 'Q' then redis.call('HDEL', KEYS[1], ARGV[2]) "
    "else redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end "
    "redis.call('PUBLISH', 'tc:ev', ARGV[4]) return 1",
    /* S_PM: KEYS the conversation's stream; ARGV cap (0: none), the target node's channel,
     * the event, the oldest stream id kept by age ('': any), the sender's and the target's
     * accounts (folded, '' for none), whose conversations (tc:pmi:<account>) it joins.
     * Stored, then published: delivered implies stored. */
    "if ARGV[1] == '0' then redis.call('XADD', KEYS[1], '*', 'm', ARGV[3]) "
    "else redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[3]) end "
    "if ARGV[4] ~= '' then redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[4]) end "
    "for i = 5, 6 do if ARGV[i] ~= '' then "
    "redis.call('SADD', 'tc:pmi:' .. ARGV[i], KEYS[1]) end end "
    /* the target node's inbox (tc:inbox:<node>, CLUSTER_INBOX_MAX), whose entry id the
     * published event carries as its last field (a netstring) */
    "local iid = redis.call('XADD', 'tc:inbox:' .. string.sub(ARGV[2], 6), 'MAXLEN', '~', "
    "1000, '*', 'm', ARGV[3]) "
    "redis.call('PUBLISH', ARGV[2], ARGV[3] .. #iid .. ':' .. iid .. ',') return 1",
    /* S_BEAT: KEYS the node table; ARGV node, name, seconds to live, "host pid", reap ('1'
     * or '0'). Renews this node, and with reap declares gone every node whose heartbeat has
     * lapsed (once: the first to see it). Returns those, and the node table. */
    LUA_NS "redis.call('SET', 'tc:alive:' .. ARGV[1], ARGV[4], 'EX', ARGV[3]) "
           "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) "
           /* a Redis that restarted empty must not hand this node's number out again */
           "if tonumber(redis.call('GET', 'tc:nodeseq') or '0') < tonumber(ARGV[1]) then "
           "redis.call('SET', 'tc:nodeseq', ARGV[1]) end "
           "local all = redis.call('HGETALL', KEYS[1]) local gone = {} "
           "for i = 1, #all, 2 do local n = all[i] "
           "if ARGV[5] == '1' and n ~= ARGV[1] and redis.call('EXISTS', 'tc:alive:' .. n) == 0 "
           "then "
           "redis.call('HDEL', KEYS[1], n) redis.call('DEL', 'tc:users:' .. n) "
           "redis.call('PUBLISH', 'tc:ev', ns('X') .. ns(n) .. ns(all[i + 1])) "
           "table.insert(gone, n) end end "
           "return {gone, redis.call('HGETALL', KEYS[1])}",
    /* S_LEAVE: KEYS the node table; ARGV node, name: this node leaves. */
    LUA_NS "redis.call('HDEL', KEYS[1], ARGV[1]) redis.call('DEL', 'tc:alive:' .. ARGV[1]) "
           "redis.call('DEL', 'tc:users:' .. ARGV[1]) "
           "redis.call('PUBLISH', 'tc:ev', ns('X') .. ns(ARGV[1]) .. ns(ARGV[2])) return 1",
    /* S_REAPNICKS: KEYS a node's nick set on this Redis; ARGV the node: frees its nicks. */
    "local prefix = ARGV[1] .. ':' "
    "for _, f in ipairs(redis.call('SMEMBERS', KEYS[1])) do local k = 'tc:nick:' .. f "
    "local v = redis.call('GET', k) "
    "if v and string.sub(v, 1, #prefix) == prefix then redis.call('DEL', k) end end "
    "redis.call('DEL', KEYS[1]) return 1",
    /* S_SNAP: ARGV this node, a count, an epoch: every other node's users, as packed facts;
     * the node table (both only on the first server); this server's channels, each as its
     * key, its settings, its members, its lists and its last count messages (newest first);
     * the server's epoch (the one given if it had none: its data is new); the server
     * bans and the channel registrations (packed; only the first server has them); and
     * this node's inbox after ARGV[4], the last private message it had from it (''
     * at start: the inbox's newest entry alone, to start from); and the QUIT events of users
     * who left while this server was away (tc:left, S_LEFT). */
    "local out = {} local all = redis.call('HGETALL', 'tc:nodes') "
    "for i = 1, #all, 2 do if all[i] ~= ARGV[1] then "
    "for _, u in ipairs(redis.call('HVALS', 'tc:users:' .. all[i])) do "
    "table.insert(out, u) end end end "
    "local chans = {} for _, k in ipairs(redis.call('SMEMBERS', 'tc:chans')) do "
    "table.insert(chans, {k, redis.call('GET', 'tc:ch:' .. k) or '', "
    "redis.call('HGETALL', 'tc:chm:' .. k), redis.call('HGETALL', 'tc:chl:' .. k), "
    "redis.call('XREVRANGE', 'tc:h:' .. k, '+', '-', 'COUNT', ARGV[2])}) end "
    "local ep = redis.call('GET', 'tc:epoch') "
    "if not ep then ep = ARGV[3] redis.call('SET', 'tc:epoch', ep) end "
    "local inbox = 'tc:inbox:' .. ARGV[1] local missed "
    "if ARGV[4] == '' then missed = redis.call('XREVRANGE', inbox, '+', '-', 'COUNT', 1) "
    "else missed = redis.call('XRANGE', inbox, '(' .. ARGV[4], '+') end "
    "return {out, all, chans, ep, redis.call('HVALS', 'tc:bans'), redis.call('HVALS', 'tc:creg'), "
    "missed, redis.call('HVALS', 'tc:left')}",
    /* S_CHAN: ARGV the event ('' none), the node, then changes of four arguments each (op,
     * channel, field, value): M settings (value the whole settings, field the parts of them
     * that changed, CHAN_META_*: only those replace the stored ones; '' all), D the channel
     * is gone (if no member is left), A a member joins ("flags nick user@host"), R a member leaves,
     * F a member's flags, N a member's nick, L a list entry is set, l one is removed, V client
     * field is invited, v its invitation is used or lifted, H the event (a message) is kept in the
     * channel's stream, at most field (0: no cap) of them and none older than the stream id value
     * ('': any age). The channel's keys and its event change together, and a message is stored
     * before it is published, with its entry's id as a last field (a netstring): the place in the
     * stream up to which a node has delivered the channel (catch_up). */
    LUA_NS
    "local function fields(s) local t = {} local p = 1 while p <= #s do "
    "local c = string.find(s, ':', p, true) if not c then return nil end "
    "local len = tonumber(string.sub(s, p, c - 1)) if not len then return nil end "
    "table.insert(t, string.sub(s, c + 1, c + len)) p = c + len + 2 end return t end "
    /* The settings' fields (pack_meta) by part: name and creation; modes; key; limit; topic,
     * who and when; then the invitations, their count and ids, to the end. */
    "local function merge(old, new, parts) local o, n = fields(old or ''), fields(new) "
    "if not o or not n or #o < 10 or #n < 10 then return new end "
    "local out = '' "
    "for _, g in ipairs({{1, 1, 2}, {2, 3, 3}, {4, 4, 4}, {8, 5, 5}, {16, 6, 9}, "
    "{32, 10, 0}}) do local src = o "
    "if math.floor(parts / g[1]) % 2 == 1 then src = n end "
    "local last = g[3] if last == 0 then last = #src end "
    "for j = g[2], last do out = out .. ns(src[j]) end end return out end "
    /* An invitation (V) or its end (v) of client f: the settings' invitations (fields 10
     * on) change, in order, the oldest going past INVITES_MAX (32), as on a node. */
    "local function invite(k, f, add) local key = 'tc:ch:' .. k "
    "local cur = redis.call('GET', key) "
    "if not cur or (not add and not string.find(cur, ':' .. f .. ',', 1, true)) then return end "
    "local o = fields(cur) if not o or #o < 10 then return end "
    "local ids, had = {}, false "
    "for j = 11, #o do if o[j] == f then had = true else table.insert(ids, o[j]) end end "
    "if add then if had then return end if #ids >= 32 then table.remove(ids, 1) end "
    "table.insert(ids, f) elseif not had then return end "
    "local out = '' for j = 1, 9 do out = out .. ns(o[j]) end out = out .. ns(tostring(#ids)) "
    "for _, x in ipairs(ids) do out = out .. ns(x) end redis.call('SET', key, out) end "
    "local node = ARGV[2] local sid "
    "for i = 3, #ARGV - 3, 4 do "
    "local op, k, f, v = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3] "
    "local m = 'tc:chm:' .. k "
    "if op == 'M' then local parts = tonumber(f) "
    "if parts then v = merge(redis.call('GET', 'tc:ch:' .. k), v, parts) end "
    "redis.call('SET', 'tc:ch:' .. k, v) redis.call('SADD', 'tc:chans', k) "
    /* only if no member is left: another node's JOIN may have come first */
    "elseif op == 'D' then if redis.call('HLEN', m) == 0 then "
    "redis.call('DEL', 'tc:ch:' .. k, m, 'tc:chl:' .. k, 'tc:h:' .. k) "
    "redis.call('SREM', 'tc:chans', k) end "
    "elseif op == 'A' then redis.call('HSET', m, f, v) redis.call('SADD', 'tc:chans', k) "
    "redis.call('SADD', 'tc:nch:' .. node, k) "
    "elseif op == 'R' then redis.call('HDEL', m, f) "
    "elseif op == 'F' or op == 'N' then local cur = redis.call('HGET', m, f) "
    "if cur then local fl, nick, uh = string.match(cur, '^(%d) (%S+) (%S+)$') "
    "if fl then if op == 'F' then fl = v else nick = v end "
    "redis.call('HSET', m, f, fl .. ' ' .. nick .. ' ' .. uh) end end "
    "elseif op == 'V' or op == 'v' then invite(k, f, op == 'V') "
    "elseif op == 'L' then redis.call('HSET', 'tc:chl:' .. k, f, v) "
    "elseif op == 'l' then redis.call('HDEL', 'tc:chl:' .. k, f) "
    "elseif op == 'H' then if f == '0' then sid = redis.call('XADD', 'tc:h:' .. k, '*', 'm', "
    "ARGV[1]) "
    "else sid = redis.call('XADD', 'tc:h:' .. k, 'MAXLEN', '~', f, '*', 'm', ARGV[1]) end "
    "if v ~= '' then redis.call('XTRIM', 'tc:h:' .. k, 'MINID', '~', v) end end end "
    "if sid then redis.call('PUBLISH', 'tc:ev', ARGV[1] .. #sid .. ':' .. sid .. ',') "
    "elseif ARGV[1] ~= '' then redis.call('PUBLISH', 'tc:ev', ARGV[1]) end return 1",
    /* S_REAPCHANS: ARGV a node gone: its members leave this server's channels, which are
     * named in one event. */
    LUA_NS
    "local prefix = ARGV[1] .. ':' local keys = {} "
    "for _, k in ipairs(redis.call('SMEMBERS', 'tc:nch:' .. ARGV[1])) do "
    "local m = 'tc:chm:' .. k local hit = false "
    "for _, f in ipairs(redis.call('HKEYS', m)) do "
    "if string.sub(f, 1, #prefix) == prefix then redis.call('HDEL', m, f) hit = true end end "
    "if hit then table.insert(keys, k) if redis.call('HLEN', m) == 0 then "
    "redis.call('DEL', 'tc:ch:' .. k, 'tc:chl:' .. k, 'tc:h:' .. k) "
    "redis.call('SREM', 'tc:chans', k) "
    "end end end "
    "redis.call('DEL', 'tc:nch:' .. ARGV[1]) "
    "if #keys > 0 then local ev = ns('C') .. ns('X') .. ns(ARGV[1]) .. ns('0') .. "
    "ns(tostring(#keys)) "
    "for _, k in ipairs(keys) do ev = ev .. ns(k) end redis.call('PUBLISH', 'tc:ev', ev) end "
    "return #keys",
    /* S_PMFILL: ARGV an account (folded), a count, a most: the last count events of each of
     * (at most the most of) the account's conversations on this server, newest first, one
     * array per conversation. Conversations trimmed empty are forgotten. */
    "local out = {} local set = 'tc:pmi:' .. ARGV[1] "
    "for _, k in ipairs(redis.call('SRANDMEMBER', set, tonumber(ARGV[3]))) do "
    "local e = redis.call('XREVRANGE', k, '+', '-', 'COUNT', ARGV[2]) "
    "if #e == 0 then redis.call('SREM', set, k) else "
    "local c = {} for _, x in ipairs(e) do table.insert(c, x[2][2]) end "
    "table.insert(out, c) end end return out",
    /* S_GHOSTS: ARGV this node, a reason, then the ids of its users now. What Redis still
     * holds of this node's users who are gone (they left while Redis was away, and Redis kept
     * its data): their directory entries (a Q event each), their nicks, and their channel
     * memberships (a PART each, in a C P event). Returns how many users and memberships. */
    LUA_NS
    "local function nth(s, n) local p = 1 for i = 1, n do "
    "local c = string.find(s, ':', p, true) if not c then return nil end "
    "local len = tonumber(string.sub(s, p, c - 1)) if not len then return nil end "
    "if i == n then return string.sub(s, c + 1, c + len) end p = c + len + 2 end end "
    "local node, reason = ARGV[1], ARGV[2] local prefix = node .. ':' local live = {} "
    "for i = 3, #ARGV do live[ARGV[i]] = true end "
    "local n = 0 local users = 'tc:users:' .. node "
    "for _, id in ipairs(redis.call('HKEYS', users)) do if not live[id] then "
    "local nick = nth(redis.call('HGET', users, id) or '', 4) or '' "
    "redis.call('HDEL', users, id) "
    "redis.call('PUBLISH', 'tc:ev', ns('Q') .. ns(node) .. ns(id) .. ns(nick) .. ns(reason)) "
    "n = n + 1 end end "
    "local nicks = 'tc:nicks:' .. node "
    "for _, f in ipairs(redis.call('SMEMBERS', nicks)) do "
    "local v = redis.call('GET', 'tc:nick:' .. f) "
    "if not v or string.sub(v, 1, #prefix) ~= prefix then redis.call('SREM', nicks, f) "
    "elseif not live[string.sub(v, #prefix + 1)] then "
    "redis.call('DEL', 'tc:nick:' .. f) redis.call('SREM', nicks, f) end end "
    "for _, k in ipairs(redis.call('SMEMBERS', 'tc:nch:' .. node)) do "
    "local m = 'tc:chm:' .. k local name = nth(redis.call('GET', 'tc:ch:' .. k) or '', 1) or k "
    "for _, f in ipairs(redis.call('HKEYS', m)) do "
    "if string.sub(f, 1, #prefix) == prefix and not live[string.sub(f, #prefix + 1)] then "
    "local fl, nick, uh = string.match(redis.call('HGET', m, f) or '', '^(%d) (%S+) (%S+)$') "
    "redis.call('HDEL', m, f) n = n + 1 "
    "if nick then redis.call('PUBLISH', 'tc:ev', ns('C') .. ns('P') .. ns(node) .. "
    "ns(string.sub(f, #prefix + 1)) .. ns(k) .. "
    "ns(':' .. nick .. '!' .. uh .. ' PART ' .. name .. ' :' .. reason)) end end end "
    "if redis.call('HLEN', m) == 0 then "
    "redis.call('DEL', 'tc:ch:' .. k, 'tc:chl:' .. k, 'tc:h:' .. k) "
    "redis.call('SREM', 'tc:chans', k) redis.call('SREM', 'tc:nch:' .. node, k) end end "
    "return n",
    /* S_LEFT: ARGV the user's node, a user's id, its channel QUIT event (C Q: origin, user,
     * line, this server's keys, the others'), seconds to keep it: a user who left while this
     * server was away (cluster/quits.h). A PART or KICK event instead: the user leaves that
     * channel (if Redis still has it there), with the event. Its memberships here go (a channel
     * emptied with them), the event is published, and kept in tc:left for the nodes whose
     * subscriber comes back after this (S_SNAP returns it); its directory entry (on the first
     * server) goes with a Q event of the QUIT's reason. Run before S_GHOSTS, which would part it
     * generically. */
    LUA_NS "local function fields(s) local t = {} local p = 1 while p <= #s do "
           "local c = string.find(s, ':', p, true) if not c then return nil end "
           "local len = tonumber(string.sub(s, p, c - 1)) if not len then return nil end "
           "table.insert(t, string.sub(s, c + 1, c + len)) p = c + len + 2 end return t end "
           "local node, id, ev = ARGV[1], ARGV[2], ARGV[3] local f = fields(ev) "
           "if not f or #f < 6 or f[1] ~= 'C' then return 0 end "
           "local field = node .. ':' .. id "
           /* a PART or KICK (C P/K: origin, user, key, line): out of that channel */
           "if f[2] == 'P' or f[2] == 'K' then local k = f[5] local m = 'tc:chm:' .. k "
           "if redis.call('HDEL', m, field) == 1 and redis.call('HLEN', m) == 0 then "
           "redis.call('DEL', 'tc:ch:' .. k, 'tc:chl:' .. k, 'tc:h:' .. k) "
           "redis.call('SREM', 'tc:chans', k) redis.call('SREM', 'tc:nch:' .. node, k) end "
           /* published even when Redis came back without it: the nodes' replicas have it;
            * kept for the nodes back later, as a QUIT is */
           "redis.call('HSET', 'tc:left', field .. ':' .. k, ev) "
           "redis.call('EXPIRE', 'tc:left', ARGV[4]) "
           "redis.call('PUBLISH', 'tc:ev', ev) return 1 end "
           "if f[2] ~= 'Q' then return 0 end "
           "for i = 7, math.min(#f, 6 + (tonumber(f[6]) or 0)) do local k = f[i] "
           "local m = 'tc:chm:' .. k "
           "if redis.call('HDEL', m, field) == 1 and redis.call('HLEN', m) == 0 then "
           "redis.call('DEL', 'tc:ch:' .. k, 'tc:chl:' .. k, 'tc:h:' .. k) "
           "redis.call('SREM', 'tc:chans', k) redis.call('SREM', 'tc:nch:' .. node, k) end end "
           "redis.call('HSET', 'tc:left', field, ev) redis.call('EXPIRE', 'tc:left', ARGV[4]) "
           "redis.call('PUBLISH', 'tc:ev', ev) "
           "local users = 'tc:users:' .. node local facts = redis.call('HGET', users, id) "
           "if facts then local u = fields(facts) or {} redis.call('HDEL', users, id) "
           "redis.call('PUBLISH', 'tc:ev', ns('Q') .. ns(node) .. ns(id) .. ns(u[4] or '') .. "
           "ns(string.match(f[5], '^%S+ QUIT :(.*)$') or '')) end return 1",
    /* S_BAN: KEYS the bans; ARGV '+' (set), '-' (lift) or 'e' (expired), the ban's field
     * (kind letter and mask), its value (packed), the event (B or b). A lift removes the ban
     * if it is there; an expiry only if it is still that value (it may have been set again
     * since). The event is published only with a change. */
    "if ARGV[1] == '+' then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) "
    "else local cur = redis.call('HGET', KEYS[1], ARGV[2]) "
    "if not cur or (ARGV[1] == 'e' and cur ~= ARGV[3]) then return 0 end "
    "redis.call('HDEL', KEYS[1], ARGV[2]) end "
    "redis.call('PUBLISH', 'tc:ev', ARGV[4]) return 1",
    /* S_CREG: KEYS the channel registrations; ARGV '+' (set) or '-' (dropped), the channel's
     * folded name, its registration (packed), the event (G or g). */
    "if ARGV[1] == '+' then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) "
    "else redis.call('HDEL', KEYS[1], ARGV[2]) end "
    "redis.call('PUBLISH', 'tc:ev', ARGV[4]) return 1",
};

/* --- state --------------------------------------------------------------------------------- */

#define CLUSTER_TICK_MS   200
#define STREAM_TRIM_EVERY 100 /* messages between trims of a stream by age */
#define BACKOFF_MIN_MS    100
#define BACKOFF_MAX_MS    5000
#define INFLIGHT_MAX      100000 /* commands sent to one Redis and not answered */
#define SNAP_BUFFER_MAX   100000 /* events held while the directory is being loaded */
#define CLOSE_WAIT_MS     2000   /* how long leaving waits for Redis to confirm */
#define CONNECT_TIMEOUT   2      /* seconds, for the start-up connection */
#define NODES_SHOWN_MAX   1024   /* nodes whose names are kept; a network this large is far off */

struct shard;

/* One connection to one Redis server, watched by the cluster loop. */
struct rconn {
    struct loop_io io;
    struct shard *sh;
    redisAsyncContext *ac; /* NULL while disconnected */
    unsigned mask;         /* LOOP_READ/LOOP_WRITE watched now */
    int fd;
    int sub;      /* the subscriber connection (else commands) */
    int ready;    /* connected */
    int inflight; /* commands without their answer yet */
    /* For STATS l (read by the workers): commands sent and answers or events received, with
     * their bytes (arguments, and string answers), and since when it is up (0: down). */
    atomic_ullong sent, sent_bytes, received, received_bytes;
    _Atomic long long up_since;
};

/* An event that came while its server's snapshot was being loaded. */
struct held {
    struct held *next;
    size_t len;
    char data[];
};

struct shard {
    struct cluster *cl;
    int index;
    /* What this server holds of the network (the user directory on the first, channels on
     * each), loaded once subscribed; its events meanwhile are held, then applied. */
    int snap_done, snap_asked;
    int chans_loaded;    /* channels are loaded at start, reconciled after (docs/cluster.md) */
    char epoch[48];      /* the server's tc:epoch at the last snapshot */
    char inbox_seen[48]; /* the id of the last entry of this node's inbox here it has had */
    struct held *held_head, *held_tail;
    int nheld, held_overflow;
    struct redis_server rs;
    struct rconn cmd, sub;
    uint64_t retry_ms; /* when to connect again */
    unsigned backoff_ms;
    int was_up; /* has been up: coming back means announcing this node's users again */
};

enum req_kind {
    R_CLAIM,
    R_RELEASE,
    R_USER,
    R_NICK,
    R_QUIT,
    R_PM,
    R_KILL,
    R_BROADCAST,
    R_CHAN,
    R_LEARN,
    R_PMFILL,
    R_BAN,
    R_CREG
};

/* A worker's request, queued for the cluster thread. */
struct req {
    struct req *next;
    enum req_kind kind;
    int worker;
    uint64_t id;   /* R_BAN: the change (enum ban_save) */
    uint64_t node; /* R_PM, R_KILL: the target's node */
    int shard;     /* R_CHAN: the channels' server */
    int msg;       /* R_CHAN: a message (its sender, id on worker, is told if it fails) */
    int quit; /* R_CHAN: a QUIT, PART or KICK (kept in quits if the network does not take it) */
    int keep; /* R_CHAN: a change of settings (kept for its server's return: keep_request) */
    mb_client_fn *done;
    char nick[IRC_NICK_MAX + 1];        /* the nick claimed, released, announced or quitting */
    char chan[IRC_CHANNEL_MAX + 1];     /* R_CHAN: the (first) channel's name */
    char old[IRC_NICK_MAX + 1];         /* R_NICK: the nick given up */
    char key[2 * IRC_NICK_MAX + 16];    /* R_PM: the conversation's stream */
    char accounts[2][IRC_NICK_MAX + 1]; /* R_PM: the sender's and target's, folded */
    size_t len, facts_len;              /* data: the event; then the facts (R_USER, R_NICK), changes
                                           (R_CHAN) or the ban (R_BAN) */
    char data[];
};

/* A node's number and name, from the node table: for WHOIS (312) and LUSERS. */
struct node_name {
    uint64_t node;
    char name[64];
};

/* Nicks the network may have given a client that the client has not taken up yet: asked for,
 * or granted with the answer still on its way to the client's worker. If the client goes
 * first, its goodbye frees these too, so that no nick stays held by nobody. */
#define CLAIMS_PER_CLIENT 4
struct claims {
    uint64_t id;
    int n;
    char nick[CLAIMS_PER_CLIENT][IRC_NICK_MAX + 1];
    UT_hash_handle hh;
};

struct cluster {
    struct server *srv;
    struct claims *claims; /* by client id; the cluster thread's alone */
    struct quits quits;    /* QUITs Redis could not take; the cluster thread's alone */
    struct req *kept;      /* changes for a server's return (bans, registrations, settings) */
    int nkept;             /* (keep_request); the cluster thread's alone */
    uint64_t node;         /* this node's number: the top bits of its client ids */
    char name[64];
    char instance[320]; /* "host pid": the heartbeat's value, to know a dead earlier run */
    char password[REDIS_PASSWORD_MAX + 1];
    char sha[S_COUNT][41];
    char my_channel[32]; /* "tc:n:<node>": events for this node's users alone */
    int nshards;
    struct shard shards[REDIS_SHARDS_MAX];

    pthread_t thread;
    struct loop *loop;
    int evfd;
    struct loop_io ev_io;
    uint64_t now_ms, tick_ms, beat_ms;
    uint64_t reap_after_ms; /* no node is taken for gone before this (back from an outage) */
    int heartbeat_s;
    long history_max;
    int history_days;
    atomic_uint trims; /* messages appended to streams, for oldest_kept */

    pthread_mutex_t lock; /* guards the queue, stopping and up */
    struct req *head, *tail;
    int queued;
    int stopping;
    pthread_cond_t up_cond; /* signalled once when up is set */
    int up;                 /* the links and the user directory came up (once) */

    pthread_mutex_t names_lock; /* guards names and nnames (workers read them) */
    struct node_name names[NODES_SHOWN_MAX];
    int nnames;

    atomic_int degraded; /* told the users the network is degraded (workers read it) */
    /* The last nodes declared gone, with their names: the QUIT of their channel members
     * names the node (their channels' events may come after the node table forgot it). */
    struct node_name gone[8];
    int gone_next;
    int leaving; /* commands of the goodbye still unanswered */
    int left;    /* the goodbye is sent */
    uint64_t leave_by_ms;
};

/* The oldest stream id --history-days keeps ("<ms>-0"; "" when age does not count, and on
 * all but one message in STREAM_TRIM_EVERY: trimming by age each time cost one more Redis
 * command per message, and a day's retention does not need it). The streams' ids are Redis's
 * clock in milliseconds, near enough to the nodes'. */
static void oldest_kept(struct cluster *cl, char *out, size_t n)
{
    if (cl->history_days <= 0 ||
        atomic_fetch_add_explicit(&cl->trims, 1, memory_order_relaxed) % STREAM_TRIM_EVERY != 0) {
        out[0] = '\0';
        return;
    }
    long long cut = (long long)time(NULL) - (long long)cl->history_days * 86400;
    snprintf(out, n, "%lld-0", cut > 0 ? cut * 1000 : 0);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* FNV-1a of a folded name: which Redis server holds it. Every node must agree, so this
 * never changes. */
static int shard_of(const struct cluster *cl, const char *name)
{
    unsigned h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ ircname_fold_char(*p)) * 16777619u;
    return (int)(h % (unsigned)cl->nshards);
}

/* --- hiredis on the cluster loop ------------------------------------------------------------- */

static void on_io(struct loop_io *io, unsigned events)
{
    struct rconn *r = loop_owner(io, struct rconn, io);
    if (r->ac && (events & (LOOP_READ | LOOP_HUP)))
        redisAsyncHandleRead(r->ac);
    if (r->ac && (events & LOOP_WRITE))
        redisAsyncHandleWrite(r->ac);
}

static void set_mask(struct rconn *r, unsigned mask)
{
    struct loop *l = r->sh->cl->loop;
    if (mask == r->mask)
        return;
    if (r->mask == 0)
        loop_watch(l, r->fd, mask, &r->io, on_io);
    else if (mask == 0)
        loop_unwatch(l, r->fd);
    else
        loop_rewatch(l, r->fd, mask, &r->io);
    r->mask = mask;
}

static void ad_add_read(void *p)
{
    struct rconn *r = p;
    set_mask(r, r->mask | LOOP_READ);
}

static void ad_del_read(void *p)
{
    struct rconn *r = p;
    set_mask(r, r->mask & ~(unsigned)LOOP_READ);
}

static void ad_add_write(void *p)
{
    struct rconn *r = p;
    set_mask(r, r->mask | LOOP_WRITE);
}

static void ad_del_write(void *p)
{
    struct rconn *r = p;
    set_mask(r, r->mask & ~(unsigned)LOOP_WRITE);
}

static void ad_cleanup(void *p)
{
    struct rconn *r = p;
    set_mask(r, 0);
}

/* --- telling the users -------------------------------------------------------------------- */

static int all_up(const struct cluster *cl)
{
    for (int i = 0; i < cl->nshards; i++)
        if (!cl->shards[i].cmd.ready || !cl->shards[i].sub.ready)
            return 0;
    return 1;
}

static void degraded(struct cluster *cl, const char *why)
{
    if (atomic_load(&cl->degraded) || cl->stopping)
        return;
    atomic_store(&cl->degraded, 1);
    log_warn("cluster: %s; the network is degraded", why);
    char text[512];
    snprintf(text, sizeof text,
             "The chat network is degraded (%s): you stay connected and can talk to users of "
             "this server; messages to others may fail until it recovers",
             why);
    fanout_announce(cl->srv, text);
}

/* The first time every link is up and the user directory is loaded, cluster_open (waiting so
 * that no client registers on a node that cannot ask the network yet) is told. */
static void maybe_up(struct cluster *cl)
{
    if (!all_up(cl))
        return;
    for (int i = 0; i < cl->nshards; i++)
        if (!cl->shards[i].snap_done)
            return;
    pthread_mutex_lock(&cl->lock);
    if (!cl->up) {
        cl->up = 1;
        pthread_cond_broadcast(&cl->up_cond);
    }
    pthread_mutex_unlock(&cl->lock);
}

static void recovered(struct cluster *cl)
{
    maybe_up(cl);
    if (!atomic_load(&cl->degraded) || !all_up(cl))
        return;
    atomic_store(&cl->degraded, 0);
    log_info("cluster: every Redis server is reachable again");
    fanout_announce(cl->srv, "The chat network has recovered");
}

/* --- commands -------------------------------------------------------------------------------- */

typedef void reply_fn(struct cluster *cl, redisReply *reply, void *arg);

/* What a command's callback needs: its cluster, what to call, and with what. */
struct call {
    struct rconn *r;
    reply_fn *fn;
    void *arg;
};

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct call *k = privdata;
    k->r->inflight--;
    redisReply *rp = reply;
    if (rp) {
        atomic_fetch_add_explicit(&k->r->received, 1, memory_order_relaxed);
        if (rp->type == REDIS_REPLY_STRING)
            atomic_fetch_add_explicit(&k->r->received_bytes, rp->len, memory_order_relaxed);
    }
    if (rp && rp->type == REDIS_REPLY_ERROR)
        log_warn("cluster: Redis %s:%d: %s", k->r->sh->rs.host, k->r->sh->rs.port, rp->str);
    if (k->fn)
        k->fn(k->r->sh->cl, rp, k->arg); /* rp NULL: the connection went before an answer */
    free(k);
}

/* Sends a command on r; fn(cl, reply, arg) gets its answer (NULL if the connection fails
 * first). Returns 0, or -1 when r is down or too far behind (fn not called). */
static int command(struct rconn *r, reply_fn *fn, void *arg, int argc, const char **argv,
                   const size_t *lens)
{
    if (!r->ac || !r->ready || r->inflight >= INFLIGHT_MAX || (argc > 16 && !lens))
        return -1;
    size_t own[16];
    if (!lens) {
        for (int i = 0; i < argc; i++)
            own[i] = strlen(argv[i]);
        lens = own;
    }
    struct call *k = malloc(sizeof *k);
    if (!k)
        return -1;
    *k = (struct call){r, fn, arg};
    if (redisAsyncCommandArgv(r->ac, on_reply, k, argc, argv, lens) != REDIS_OK) {
        free(k);
        return -1;
    }
    r->inflight++;
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += lens[i];
    atomic_fetch_add_explicit(&r->sent, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->sent_bytes, bytes, memory_order_relaxed);
    return 0;
}

/* EVALSHA of script s with nkeys of the args as keys. */
static int script(struct cluster *cl, int shard, int s, reply_fn *fn, void *arg, int nkeys,
                  int nargs, const char **args, const size_t *lens)
{
    const char *small[12];
    size_t small_len[12];
    const char **argv = small;
    size_t *argl = small_len;
    if (nargs + 3 > 12) { /* S_GHOSTS: every user's id */
        argv = malloc((size_t)(nargs + 3) * sizeof *argv);
        argl = malloc((size_t)(nargs + 3) * sizeof *argl);
        if (!argv || !argl) {
            free(argv);
            free(argl);
            return -1;
        }
    }
    char nk[8];
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[0] = "EVALSHA";
    argl[0] = 7;
    argv[1] = cl->sha[s];
    argl[1] = 40;
    argv[2] = nk;
    argl[2] = strlen(nk);
    for (int i = 0; i < nargs; i++) {
        argv[3 + i] = args[i];
        argl[3 + i] = lens ? lens[i] : strlen(args[i]);
    }
    int rc = command(&cl->shards[shard].cmd, fn, arg, 3 + nargs, argv, argl);
    if (argv != small) {
        free(argv);
        free(argl);
    }
    return rc;
}

/* --- a nick's keys ---------------------------------------------------------------------------- */

struct nick_keys {
    char key[IRC_NICK_MAX + 16], set[48], value[48], fold[IRC_NICK_MAX + 1];
    int shard;
};

static void nick_keys(struct cluster *cl, const char *nick, uint64_t id, struct nick_keys *k)
{
    ircname_fold(nick, k->fold, sizeof k->fold);
    snprintf(k->key, sizeof k->key, "tc:nick:%s", k->fold);
    snprintf(k->set, sizeof k->set, "tc:nicks:%llu", (unsigned long long)cl->node);
    snprintf(k->value, sizeof k->value, "%llu:%llu", (unsigned long long)cl->node,
             (unsigned long long)id);
    k->shard = shard_of(cl, k->fold);
}

/* Runs S_CLAIM or S_RELEASE for nick of client id. */
static int nick_script(struct cluster *cl, int s, const char *nick, uint64_t id, reply_fn *fn,
                       void *arg)
{
    struct nick_keys k;
    nick_keys(cl, nick, id, &k);
    const char *args[] = {k.key, k.set, k.value, k.fold};
    return script(cl, k.shard, s, fn, arg, 2, 4, args, NULL);
}

/* --- claims not taken up yet ---------------------------------------------------------------- */

static int claim_track(struct cluster *cl, uint64_t id, const char *nick)
{
    struct claims *c;
    HASH_FIND(hh, cl->claims, &id, sizeof id, c);
    if (!c) {
        if (!(c = calloc(1, sizeof *c)))
            return -1;
        c->id = id;
        HASH_ADD(hh, cl->claims, id, sizeof c->id, c);
    }
    if (c->n == CLAIMS_PER_CLIENT)
        return -1;
    snprintf(c->nick[c->n++], sizeof c->nick[0], "%s", nick);
    return 0;
}

/* Forgets nick (NULL: every nick) of client id; with release, gives each back too. */
static void claim_forget(struct cluster *cl, uint64_t id, const char *nick, int release)
{
    struct claims *c;
    HASH_FIND(hh, cl->claims, &id, sizeof id, c);
    if (!c)
        return;
    for (int i = 0; i < c->n;) {
        if (nick && ircname_cmp(nick, c->nick[i]) != 0) {
            i++;
            continue;
        }
        if (release)
            nick_script(cl, S_RELEASE, c->nick[i], id, NULL, NULL);
        memmove(c->nick[i], c->nick[i + 1], (size_t)(c->n - i - 1) * sizeof c->nick[0]);
        c->n--;
    }
    if (c->n == 0) {
        HASH_DEL(cl->claims, c);
        free(c);
    }
}

/* The answer to a claim goes back to the client's worker. */
struct claim {
    int worker;
    uint64_t id;
    mb_client_fn *done;
    char nick[IRC_NICK_MAX + 1];
};

static void claimed(struct cluster *cl, redisReply *rp, void *arg)
{
    struct claim *cm = arg;
    int result = !rp || rp->type != REDIS_REPLY_INTEGER ? CLUSTER_UNAVAILABLE
                 : rp->integer == 1                     ? CLUSTER_OK
                                                        : CLUSTER_TAKEN;
    log_debug("cluster: claim of %s for client %llu: %s", cm->nick, (unsigned long long)cm->id,
              result == CLUSTER_OK      ? "granted"
              : result == CLUSTER_TAKEN ? "taken"
                                        : "unavailable");
    if (result != CLUSTER_OK)
        claim_forget(cl, cm->id, cm->nick, 0);
    fanout_call(cl->srv, cm->worker, cm->id, cm->done, 0, result, cm->nick);
    free(cm);
}

/* --- the nodes' names ---------------------------------------------------------------------- */

/* The node table as HGETALL gives it (number, name, ...): the names WHOIS and LUSERS show. */
static void learn_nodes(struct cluster *cl, const redisReply *all)
{
    if (!all || all->type != REDIS_REPLY_ARRAY)
        return;
    pthread_mutex_lock(&cl->names_lock);
    cl->nnames = 0;
    for (size_t i = 0; i + 1 < all->elements && cl->nnames < NODES_SHOWN_MAX; i += 2) {
        const redisReply *n = all->element[i], *name = all->element[i + 1];
        if (n->type != REDIS_REPLY_STRING || name->type != REDIS_REPLY_STRING)
            continue;
        struct node_name *e = &cl->names[cl->nnames++];
        e->node = strtoull(n->str, NULL, 10);
        snprintf(e->name, sizeof e->name, "%s", name->str);
    }
    pthread_mutex_unlock(&cl->names_lock);
}

static void forget_node(struct cluster *cl, uint64_t node)
{
    pthread_mutex_lock(&cl->names_lock);
    for (int i = 0; i < cl->nnames; i++) {
        if (cl->names[i].node == node) {
            cl->names[i] = cl->names[--cl->nnames];
            break;
        }
    }
    pthread_mutex_unlock(&cl->names_lock);
}

int cluster_server_name(struct server *srv, uint64_t id, char *buf, size_t len)
{
    struct cluster *cl = srv->cluster;
    int rc = -1;
    if (!cl)
        return -1;
    pthread_mutex_lock(&cl->names_lock);
    for (int i = 0; i < cl->nnames; i++) {
        if (cl->names[i].node == id >> CLUSTER_NODE_SHIFT) {
            snprintf(buf, len, "%s", cl->names[i].name);
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&cl->names_lock);
    return rc;
}

int cluster_links(struct server *srv, void (*fn)(void *arg, const struct cluster_link *l),
                  void *arg)
{
    struct cluster *cl = srv->cluster;
    if (!cl)
        return 0;
    pthread_mutex_lock(&cl->lock);
    int queued = cl->queued;
    pthread_mutex_unlock(&cl->lock);
    long long now = (long long)time(NULL);
    for (int i = 0; i < cl->nshards; i++) {
        const struct shard *sh = &cl->shards[i];
        for (int k = 0; k < 2; k++) {
            const struct rconn *r = k ? &sh->sub : &sh->cmd;
            struct cluster_link l = {
                .sendq = k ? 0 : queued,
                .sent = atomic_load_explicit(&r->sent, memory_order_relaxed),
                .sent_bytes = atomic_load_explicit(&r->sent_bytes, memory_order_relaxed),
                .received = atomic_load_explicit(&r->received, memory_order_relaxed),
                .received_bytes = atomic_load_explicit(&r->received_bytes, memory_order_relaxed),
            };
            long long up = atomic_load(&r->up_since);
            l.open_s = up ? now - up : -1;
            snprintf(l.name, sizeof l.name, "redis:%s:%d/%s", sh->rs.host, sh->rs.port,
                     k ? "sub" : "cmd");
            fn(arg, &l);
        }
    }
    return 2 * cl->nshards;
}

int cluster_other_nodes(struct server *srv, void (*fn)(void *arg, const char *name), void *arg)
{
    struct cluster *cl = srv->cluster;
    if (!cl)
        return 0;
    int n = 0;
    pthread_mutex_lock(&cl->names_lock);
    for (int i = 0; i < cl->nnames; i++) {
        if (cl->names[i].node != cl->node) {
            fn(arg, cl->names[i].name);
            n++;
        }
    }
    pthread_mutex_unlock(&cl->names_lock);
    return n;
}

int cluster_nodes(struct server *srv)
{
    struct cluster *cl = srv->cluster;
    if (!cl)
        return 1;
    pthread_mutex_lock(&cl->names_lock);
    int n = cl->nnames;
    pthread_mutex_unlock(&cl->names_lock);
    return n > 0 ? n : 1;
}

/* --- the network's events -------------------------------------------------------------------- */

static void announce_users(struct cluster *cl);
static void send_kept(struct cluster *cl, int shard);

/* A user's facts as cluster_user packs them: node, id, worker, nick, user, host, real name,
 * away, account, flags. */
static void pack_facts(struct pack *p, uint64_t node, const struct nick_info *info)
{
    pack_u64(p, node);
    pack_u64(p, info->id);
    pack_u64(p, (uint64_t)info->worker);
    pack_str(p, info->nick);
    pack_str(p, info->user);
    pack_str(p, info->host);
    pack_str(p, info->realname);
    pack_str(p, info->away);
    pack_str(p, info->account);
    pack_u64(p, (uint64_t)(info->invisible | info->wallops << 1 | info->secure << 2 |
                           info->oper << 3 | info->bot << 4));
}

/* The other half of pack_facts. Returns the node, 0 when malformed. */
static uint64_t unpack_facts(struct unpack *u, struct nick_info *info)
{
    memset(info, 0, sizeof *info);
    uint64_t node = unpack_u64(u);
    info->id = unpack_u64(u);
    uint64_t worker = unpack_u64(u);
    unpack_str(u, info->nick, sizeof info->nick);
    unpack_str(u, info->user, sizeof info->user);
    unpack_str(u, info->host, sizeof info->host);
    unpack_str(u, info->realname, sizeof info->realname);
    unpack_str(u, info->away, sizeof info->away);
    unpack_str(u, info->account, sizeof info->account);
    uint64_t flags = unpack_u64(u);
    if (u->bad || worker >= WORKERS_MAX || !ircname_nick_valid(info->nick) ||
        info->id >> CLUSTER_NODE_SHIFT != node)
        return 0;
    info->worker = WORKER_REMOTE + (int)worker;
    info->registered = 1;
    info->invisible = flags & 1;
    info->wallops = (flags >> 1) & 1;
    info->secure = (flags >> 2) & 1;
    info->oper = (flags >> 3) & 1;
    info->bot = (flags >> 4) & 1;
    return node;
}

/* A user of another node, known from its facts (an event or the directory). */
static void learn_user(struct cluster *cl, struct unpack *u)
{
    struct nick_info info;
    uint64_t node = unpack_facts(u, &info);
    if (!node || node == cl->node)
        return;
    if (nick_put_remote(cl->srv, &info) < 0)
        log_warn("cluster: %s on node %llu clashes with a user here", info.nick,
                 (unsigned long long)node);
}

/* A message for a user of this node, from another: "P", origin, target id, its worker, the
 * capability it needs, tags only, from a bot, msgid, time, time in ms, account, client tags, line.
 */
static void line_names(const char *line, size_t len, char *sender, char *target, size_t cap);

/* A private message from a user of another node to our client id goes into this node's
 * history too (the sender's node has kept it in its own), so both parties' CHATHISTORY has
 * it whichever node they ask. It is in the conversation's stream already: refused here
 * (the writer behind), it is still delivered. */
/* Whether ev is a user's PRIVMSG or NOTICE, which history keeps (not a server's notice). */
static int private_line(const struct event *ev)
{
    const char *line = ev->line->data;
    size_t len = ev->line->len >= 2 ? ev->line->len - 2 : 0;
    const char *sp = memchr(line, ' ', len);
    if (len == 0 || line[0] != ':' || !sp || !memchr(line, '!', (size_t)(sp - line)))
        return 0;
    size_t rest = len - (size_t)(sp + 1 - line);
    return (rest > 8 && memcmp(sp + 1, "PRIVMSG ", 8) == 0) ||
           (rest > 7 && memcmp(sp + 1, "NOTICE ", 7) == 0);
}

static void keep_private(struct cluster *cl, uint64_t id, struct event *ev)
{
    if (ev->tags_only || !cl->srv->hist || !private_line(ev))
        return;
    const char *line = ev->line->data;
    size_t len = ev->line->len >= 2 ? ev->line->len - 2 : 0;
    char sender[IRC_NICK_MAX + 1], target[IRC_NICK_MAX + 1];
    line_names(line, len, sender, target, sizeof sender);
    struct nick_info info;
    if (nick_info(cl->srv, target, &info) != 0 || info.id != id)
        return;
    if (history_store_private(cl->srv, ev, ev->account, info.account) < 0)
        log_warn("cluster: a private message to %s is not in this node's history (the "
                 "writer is behind)",
                 info.nick);
}

static void pack_message_line(struct pack *p, const struct event *m);
static void pack_message_ml(struct pack *p, const struct event *m);
static struct event *unpack_multiline(struct unpack *u, uint64_t n, const char *line,
                                      const char *tags, const char *account, int bot,
                                      const char *msgid, const char *time, long long time_ms);

/* A 'P' event after its kind: the message, its target (id, worker) and the target's
 * account. NULL if malformed or without memory. */
static struct event *unpack_private(struct unpack *u, uint64_t *id, uint64_t *worker,
                                    char *to_account, size_t cap)
{
    unpack_u64(u); /* origin */
    *id = unpack_u64(u);
    *worker = unpack_u64(u);
    uint64_t need = unpack_u64(u), tags_only = unpack_u64(u), bot = unpack_u64(u);
    char msgid[EVENT_MSGID_MAX], time[EVENT_TIME_MAX], account[32], tags[4096];
    unpack_str(u, msgid, sizeof msgid);
    unpack_str(u, time, sizeof time);
    uint64_t time_ms = unpack_u64(u);
    unpack_str(u, account, sizeof account);
    unpack_str(u, tags, sizeof tags);
    char line[IRC_LINE_MAX + 1];
    unpack_str(u, line, sizeof line);
    unpack_str(u, to_account, cap);
    uint64_t nlines = u->p < u->end ? unpack_u64(u) : 0; /* a multiline message's */
    if (u->bad || !line[0] || strpbrk(line, "\r\n"))
        return NULL;
    struct event *ev = nlines ? unpack_multiline(u, nlines, line, tags, account, bot != 0, msgid,
                                                 time, (long long)time_ms)
                              : event_from(tags, msgid, time, (long long)time_ms, line);
    if (!ev)
        return NULL;
    ev->need_cap = (unsigned)need;
    ev->tags_only = tags_only != 0;
    ev->bot = bot != 0;
    snprintf(ev->account, sizeof ev->account, "%s", account);
    return ev;
}

/* Stream ids ("ms-seq") in order: <0, 0 or >0 as a is before, the same as or after b ("" is
 * before everything). */
static int stream_id_cmp(const char *a, const char *b)
{
    unsigned long long am = strtoull(a, NULL, 10), bm = strtoull(b, NULL, 10);
    const char *ad = strchr(a, '-'), *bd = strchr(b, '-');
    unsigned long long as = ad ? strtoull(ad + 1, NULL, 10) : 0,
                       bs = bd ? strtoull(bd + 1, NULL, 10) : 0;
    if (!a[0] || !b[0])
        return !a[0] && !b[0] ? 0 : !a[0] ? -1 : 1;
    return am != bm ? (am < bm ? -1 : 1) : as != bs ? (as < bs ? -1 : 1) : 0;
}

/* A stream id "ms-seq" as a channel's position; -1 if it is not one. */
static int stream_pos(const char *id, struct chan_pos *pos)
{
    char *end;
    if (id[0] < '0' || id[0] > '9')
        return -1;
    pos->ms = strtoull(id, &end, 10);
    if (*end != '-' || end[1] < '0' || end[1] > '9')
        return -1;
    pos->seq = strtoull(end + 1, &end, 10);
    return *end ? -1 : 0;
}

/* A private message for a user of this node (P), from the live channel or, after the
 * subscriber was away, from the inbox of sh (inbox_missed): delivered once, in the inbox's
 * order (an entry at or before the last one had is one had already). */
static void deliver_private(struct cluster *cl, struct shard *sh, struct unpack *u)
{
    uint64_t id, worker;
    char to_account[IRC_NICK_MAX + 1], iid[48] = "";
    struct event *ev = unpack_private(u, &id, &worker, to_account, sizeof to_account);
    if (!ev)
        return;
    if (u->p < u->end) /* the inbox entry's id (S_PM) */
        unpack_str(u, iid, sizeof iid);
    if (iid[0] && sh) {
        if (stream_id_cmp(iid, sh->inbox_seen) <= 0) {
            event_unref(ev);
            return;
        }
        snprintf(sh->inbox_seen, sizeof sh->inbox_seen, "%s", iid);
    }
    if (worker < (uint64_t)cl->srv->nworkers && id >> CLUSTER_NODE_SHIFT == cl->node) {
        keep_private(cl, id, ev);
        fanout_to_client(cl->srv, (int)worker, id, ev);
    }
    event_unref(ev);
}

/* S_PMFILL's answer: an account's conversations, each newest first, into this node's store
 * (oldest first; what it has already it keeps once, by msgid). */
static void pm_filled(struct cluster *cl, redisReply *rp, void *arg)
{
    (void)arg;
    if (!rp || rp->type != REDIS_REPLY_ARRAY)
        return;
    int n = 0;
    for (size_t i = 0; i < rp->elements; i++) {
        const redisReply *c = rp->element[i];
        if (c->type != REDIS_REPLY_ARRAY)
            continue;
        for (size_t j = c->elements; j-- > 0;) {
            const redisReply *e = c->element[j];
            if (e->type != REDIS_REPLY_STRING)
                continue;
            struct unpack u;
            unpack_init(&u, e->str, e->len);
            size_t klen;
            const char *kind = unpack_bytes(&u, &klen);
            uint64_t id, worker;
            char to_account[IRC_NICK_MAX + 1];
            struct event *ev = kind && klen == 1 && kind[0] == 'P'
                                   ? unpack_private(&u, &id, &worker, to_account, sizeof to_account)
                                   : NULL;
            if (ev && !ev->tags_only && private_line(ev) &&
                history_store_private(cl->srv, ev, ev->account, to_account) == 0)
                n++;
            event_unref(ev);
        }
    }
    if (n)
        log_debug("cluster: %d private messages from the network's history", n);
}

/* Drops the users of a node that has left. */
static void node_gone(struct cluster *cl, struct unpack *u)
{
    uint64_t node = unpack_u64(u);
    char name[64];
    unpack_str(u, name, sizeof name);
    if (u->bad)
        return;
    if (node == cl->node) {
        if (cl->left)
            return; /* its own goodbye */
        /* Declared gone while cut off (heartbeats lapsed): come back, users and all. */
        log_warn("cluster: the network took this node for gone; announcing it again");
        announce_users(cl);
        return;
    }
    struct node_name *g = &cl->gone[cl->gone_next++ % 8];
    g->node = node;
    snprintf(g->name, sizeof g->name, "%s", name);
    forget_node(cl, node);
    int n = nick_drop_node(cl->srv, node, NULL, NULL);
    log_info("cluster: node %s (%llu) left the network with %d users", name,
             (unsigned long long)node, n);
}

static void apply_chan(struct cluster *cl, struct unpack *u, int only_store);
static void apply_ban(struct cluster *cl, char kind, struct unpack *u);
static void apply_creg(char kind, struct unpack *u);

/* WHOWAS remembers a user of another node giving up nick (QUIT, NICK), as for one of ours. */
static void remember(struct cluster *cl, const char *nick, uint64_t id)
{
    struct nick_info info;
    if (nick_info(cl->srv, nick, &info) == 0 && info.id == id)
        whowas_add(info.nick, info.user, info.host, info.realname);
}

/* A user of another node gave nick up: the command layer may be waiting for it (REGAIN). */
static void nick_freed(struct cluster *cl, const char *nick)
{
    if (cl->srv->hooks.nick_freed)
        cl->srv->hooks.nick_freed(cl->srv, nick);
}

/* One event from the network. */
static void apply(struct cluster *cl, struct shard *sh, const char *data, size_t len)
{
    struct unpack u;
    unpack_init(&u, data, len);
    size_t klen;
    const char *kind = unpack_bytes(&u, &klen);
    if (!kind || klen != 1)
        return;
    switch (kind[0]) {
    case 'U':
        learn_user(cl, &u);
        break;
    case 'N': {
        uint64_t node = unpack_u64(&u), id = unpack_u64(&u);
        char old[IRC_NICK_MAX + 1], nick[IRC_NICK_MAX + 1];
        unpack_str(&u, old, sizeof old);
        unpack_str(&u, nick, sizeof nick);
        if (!u.bad && node != cl->node && ircname_nick_valid(nick)) {
            remember(cl, old, id);
            if (nick_rename_remote(cl->srv, old, nick, id) == 0 && ircname_cmp(old, nick) != 0)
                nick_freed(cl, old);
        }
        break;
    }
    case 'Q': {
        uint64_t node = unpack_u64(&u), id = unpack_u64(&u);
        char nick[IRC_NICK_MAX + 1];
        unpack_str(&u, nick, sizeof nick);
        if (!u.bad && node != cl->node) {
            remember(cl, nick, id);
            nick_release(cl->srv, nick, id);
            nick_freed(cl, nick);
        }
        break;
    }
    case 'X':
        node_gone(cl, &u);
        break;
    case 'P':
        deliver_private(cl, sh, &u);
        break;
    case 'C':
        apply_chan(cl, &u, 0);
        break;
    case 'B':
    case 'b':
        apply_ban(cl, kind[0], &u);
        break;
    case 'G':
    case 'g':
        apply_creg(kind[0], &u);
        break;
    case 'r': { /* an account expired (account_redis.c) */
        char name[IRC_NICK_MAX + 1];
        unpack_str(&u, name, sizeof name);
        if (!u.bad)
            account_forget(cl->srv, name);
        break;
    }
    case 'R': { /* an account registered on some node (account_redis.c) */
        char name[IRC_NICK_MAX + 1];
        unpack_str(&u, name, sizeof name);
        if (!u.bad)
            account_learn(cl->srv, name);
        break;
    }
    case 'A':
    case 'W': {
        uint64_t origin = unpack_u64(&u);
        char text[IRC_LINE_MAX + 1];
        unpack_str(&u, text, sizeof text);
        if (u.bad || origin == cl->node)
            break;
        if (kind[0] == 'A') {
            fanout_announce(cl->srv, text);
        } else {
            struct event *ev = event_new(NULL, "%s", text);
            if (ev)
                fanout_wallops(cl->srv, ev);
            event_unref(ev);
        }
        break;
    }
    case 'K': {
        unpack_u64(&u); /* origin */
        uint64_t id = unpack_u64(&u), worker = unpack_u64(&u);
        char reason[CLOSE_REASON_MAX + 1];
        unpack_str(&u, reason, sizeof reason);
        if (!u.bad && worker < (uint64_t)cl->srv->nworkers && id >> CLUSTER_NODE_SHIFT == cl->node)
            fanout_kill(cl->srv, (int)worker, id, reason);
        break;
    }
    default:
        break;
    }
}

static void free_held(struct shard *sh)
{
    while (sh->held_head) {
        struct held *h = sh->held_head;
        sh->held_head = h->next;
        free(h);
    }
    sh->held_tail = NULL;
    sh->nheld = 0;
}

/* A stream entry's value v as it was published: the event, then its stream id as the last
 * field (the PUBLISH carries it so). Its length in *len; NULL without memory. */
static char *entry_with_id(const redisReply *v, const char *id, size_t *len)
{
    char tail[64];
    int tl = snprintf(tail, sizeof tail, "%zu:%s,", strlen(id), id);
    char *data = malloc(v->len + (size_t)tl);
    if (!data)
        return NULL;
    memcpy(data, v->str, v->len);
    memcpy(data + v->len, tail, (size_t)tl);
    *len = v->len + (size_t)tl;
    return data;
}

static void ask_snapshot(struct shard *sh);
static void subscribed(struct rconn *r, const char *channel);
static void load_chans(struct cluster *cl, const struct shard *sh, const redisReply *chans,
                       int reconcile, int removals);
static void load_bans(struct cluster *cl, const redisReply *list, int replace);
static void load_cregs(struct cluster *cl, const redisReply *list, int replace);
static void catch_up(struct cluster *cl, const struct shard *sh, const redisReply *chans);
static void inbox_missed(struct cluster *cl, struct shard *sh, const redisReply *entries);
static struct event *unpack_message(struct unpack *u);

/* Users of other nodes who left (or left a channel, or were kicked out of one) while this
 * server was away, whose QUIT, PART or KICK events their nodes published when it returned
 * (S_LEFT), perhaps before this node was subscribed again: each is applied here with its own
 * line, before the channels are reconciled (which would part the user with a generic one).
 * One this node has applied already finds no member: nothing is seen twice. */
static void left_meanwhile(struct cluster *cl, struct shard *sh, const redisReply *events)
{
    for (size_t i = 0; i < events->elements; i++) {
        const redisReply *e = events->element[i];
        /* "1:C,1:Q," (or P, K) and the rest of the event */
        if (e->type == REDIS_REPLY_STRING && e->len > 8 && memcmp(e->str, "1:C,1:", 6) == 0 &&
            (e->str[6] == 'Q' || e->str[6] == 'P' || e->str[6] == 'K') && e->str[7] == ',')
            apply(cl, sh, e->str, e->len);
    }
}

/* Whether the channel key lives on the server arg. */
static int on_shard(void *arg, const char *key)
{
    const struct shard *sh = arg;
    return shard_of(sh->cl, key) == sh->index;
}

/* A server's snapshot (S_SNAP): on the first, every other node's users; on each, its
 * channels (at start); then the events that came meanwhile. */
static void snapshot(struct cluster *cl, redisReply *rp, void *arg)
{
    struct shard *sh = arg;
    sh->snap_asked = 0;
    if (!rp || rp->type != REDIS_REPLY_ARRAY || rp->elements != 8 ||
        rp->element[0]->type != REDIS_REPLY_ARRAY || rp->element[2]->type != REDIS_REPLY_ARRAY ||
        rp->element[3]->type != REDIS_REPLY_STRING || rp->element[4]->type != REDIS_REPLY_ARRAY ||
        rp->element[5]->type != REDIS_REPLY_ARRAY || rp->element[6]->type != REDIS_REPLY_ARRAY ||
        rp->element[7]->type != REDIS_REPLY_ARRAY)
        return; /* asked again when the connection is back */
    if (sh->index == 0) {
        /* What was known is replaced: users of nodes that left meanwhile must not stay. */
        nick_drop_node(cl->srv, UINT64_MAX, NULL, NULL);
        learn_nodes(cl, rp->element[1]);
        const redisReply *users = rp->element[0];
        for (size_t i = 0; i < users->elements; i++) {
            const redisReply *e = users->element[i];
            if (e->type != REDIS_REPLY_STRING)
                continue;
            struct unpack u;
            unpack_init(&u, e->str, e->len);
            learn_user(cl, &u);
        }
    }
    /* The server's data is the one this node knew if its epoch (set by the first node to
     * ask an empty server) is the same as before. */
    int same = strcmp(sh->epoch, rp->element[3]->str) == 0;
    snprintf(sh->epoch, sizeof sh->epoch, "%s", rp->element[3]->str);
    if (sh->index == 0) {
        load_bans(cl, rp->element[4], !sh->chans_loaded || same);
        load_cregs(cl, rp->element[5], !sh->chans_loaded || same);
    }
    int back = sh->chans_loaded;
    if (back && !same) /* new data: its streams are new too */
        chan_net_forget_positions(cl->srv, on_shard, sh);
    if (back)
        left_meanwhile(cl, sh, rp->element[7]);
    load_chans(cl, sh, rp->element[2], back, same);
    sh->chans_loaded = 1;
    if (back || cl->srv->hist) /* at start only the store has a use for them */
        catch_up(cl, sh, rp->element[2]);
    inbox_missed(cl, sh, rp->element[6]);
    sh->snap_done = 1;
    for (struct held *h = sh->held_head; h; h = h->next)
        apply(cl, sh, h->data, h->len);
    free_held(sh);
    if (sh->held_overflow) { /* more came than could be held: load it all again */
        sh->held_overflow = 0;
        sh->snap_done = 0;
        ask_snapshot(sh);
    }
    maybe_up(cl);
}

static void ask_snapshot(struct shard *sh)
{
    struct cluster *cl = sh->cl;
    char node[24], count[16], epoch[48];
    snprintf(node, sizeof node, "%llu", (unsigned long long)cl->node);
    snprintf(count, sizeof count, "%d", 1); /* the newest message; catch_up reads the rest */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(epoch, sizeof epoch, "%llu.%lld.%ld", (unsigned long long)cl->node,
             (long long)ts.tv_sec, ts.tv_nsec);
    const char *args[] = {node, count, epoch, sh->inbox_seen};
    if (!sh->snap_asked && script(cl, sh->index, S_SNAP, snapshot, sh, 0, 4, args, NULL) == 0)
        sh->snap_asked = 1;
}

/* Messages on the subscriber connection of a shard. */
static void on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct rconn *r = privdata;
    struct shard *sh = r->sh;
    struct cluster *cl = sh->cl;
    redisReply *rp = reply;
    if (!rp || rp->type != REDIS_REPLY_ARRAY || rp->elements < 3 ||
        rp->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *what = rp->element[0]->str;
    if (strcmp(what, "subscribe") == 0) {
        if (rp->element[1]->type != REDIS_REPLY_STRING)
            return;
        subscribed(r, rp->element[1]->str);
        if (strcmp(rp->element[1]->str, "tc:ev") == 0) {
            /* Subscribed before the snapshot is read: nothing falls between the two. */
            sh->snap_done = 0;
            free_held(sh);
            ask_snapshot(sh);
        }
        return;
    }
    if (strcmp(what, "message") != 0 || rp->element[2]->type != REDIS_REPLY_STRING)
        return;
    const char *data = rp->element[2]->str;
    size_t len = rp->element[2]->len;
    atomic_fetch_add_explicit(&r->received, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->received_bytes, len, memory_order_relaxed);
    /* Everything but the heartbeats' channel waits for the snapshot: the network's events,
     * and this node's own channel, whose private messages must come after the inbox's
     * missed ones (inbox_missed) to keep their order. */
    int held = rp->element[1]->type == REDIS_REPLY_STRING &&
               (strcmp(rp->element[1]->str, "tc:ev") == 0 ||
                strncmp(rp->element[1]->str, "tc:n:", 5) == 0);
    if (held && !sh->snap_done) {
        if (sh->nheld >= SNAP_BUFFER_MAX) {
            sh->held_overflow = 1;
            return;
        }
        struct held *h = malloc(sizeof *h + len);
        if (!h) {
            sh->held_overflow = 1;
            return;
        }
        h->next = NULL;
        h->len = len;
        memcpy(h->data, data, len);
        if (sh->held_tail)
            sh->held_tail->next = h;
        else
            sh->held_head = h;
        sh->held_tail = h;
        sh->nheld++;
        return;
    }
    apply(cl, sh, data, len);
}

/* The inbox: S_PM adds every private message for a node to that node's inbox stream on the
 * server it goes through (tc:inbox:<node>, its last CLUSTER_INBOX_MAX) as well as publishing
 * it. A node's snapshot of a server returns what its inbox got after the last entry the node
 * had (inbox_seen), so the messages published while its subscriber was away are delivered
 * when it is back, before the ones that come after (held until then), and none twice. At
 * start the snapshot gives only the newest entry's id, to start from: what an earlier run of
 * this node missed was for clients that are gone. */
static void inbox_missed(struct cluster *cl, struct shard *sh, const redisReply *entries)
{
    int start = sh->inbox_seen[0] == '\0', n = 0;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY ||
            e->element[1]->elements != 2 || e->element[1]->element[1]->type != REDIS_REPLY_STRING)
            continue;
        const char *id = e->element[0]->str;
        if (start) {
            snprintf(sh->inbox_seen, sizeof sh->inbox_seen, "%s", id);
            continue;
        }
        const redisReply *v = e->element[1]->element[1];
        struct unpack u;
        unpack_init(&u, v->str, v->len);
        size_t klen;
        const char *kind = unpack_bytes(&u, &klen);
        if (!kind || klen != 1 || kind[0] != 'P' || stream_id_cmp(id, sh->inbox_seen) <= 0)
            continue;
        size_t len;
        char *data = entry_with_id(v, id, &len);
        if (!data)
            continue;
        apply(cl, sh, data, len);
        free(data);
        n++;
    }
    if (n)
        log_info("cluster: %d private messages published while this node was away from Redis "
                 "%s:%d delivered",
                 n, sh->rs.host, sh->rs.port);
}

/* --- connections ---------------------------------------------------------------------------- */

static void connect_shard(struct rconn *r);

static void on_setup(struct cluster *cl, redisReply *rp, void *arg)
{
    (void)cl;
    (void)arg;
    (void)rp; /* errors are logged by on_reply; a failed AUTH fails what follows, visibly */
}

static void lost(struct rconn *r, const char *why)
{
    struct shard *sh = r->sh;
    r->ac = NULL;
    r->ready = 0;
    r->mask = 0;
    r->inflight = 0;
    atomic_store(&r->up_since, 0);
    if (r->sub)
        sh->snap_done = 0;
    sh->retry_ms = sh->cl->now_ms + sh->backoff_ms;
    sh->backoff_ms = sh->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : sh->backoff_ms * 2;
    char text[REDIS_HOST_MAX + 64];
    snprintf(text, sizeof text, "Redis %s:%d %s", sh->rs.host, sh->rs.port, why);
    degraded(sh->cl, text);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rconn *r = ac->data;
    struct shard *sh = r->sh;
    if (status != REDIS_OK) {
        lost(r, "cannot be reached");
        return;
    }
    if (r->sub)
        return; /* up once subscribed: on_message */
    r->ready = 1;
    atomic_store(&r->up_since, (long long)time(NULL));
    int again = sh->was_up;
    if (again && sh->index == 0)
        sh->cl->reap_after_ms =
            sh->cl->now_ms + 3000u * (unsigned)sh->cl->heartbeat_s + BACKOFF_MAX_MS;
    sh->was_up = 1;
    if (sh->sub.ready)
        sh->backoff_ms = BACKOFF_MIN_MS;
    /* Redis may have restarted empty: this node's nicks and users, again; and the server
     * gets the changes made meanwhile (bans, registrations, channel settings) before its
     * lists are read back (the snapshot). */
    if (again) {
        send_kept(sh->cl, sh->index);
        announce_users(sh->cl);
    }
    if (sh->sub.ready && !sh->snap_done)
        ask_snapshot(sh);
    recovered(sh->cl);
}

/* The subscriber is up once Redis confirms this node's own channel (the last one asked for):
 * from then on nothing published to this node is missed, and the users may be told so. */
static void subscribed(struct rconn *r, const char *channel)
{
    struct shard *sh = r->sh;
    if (strcmp(channel, sh->cl->my_channel) != 0)
        return;
    r->ready = 1;
    atomic_store(&r->up_since, (long long)time(NULL));
    if (sh->cmd.ready) {
        sh->backoff_ms = BACKOFF_MIN_MS;
        if (!sh->snap_done)
            ask_snapshot(sh);
    }
    recovered(sh->cl);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    struct rconn *r = ac->data;
    lost(r, "went away");
}

static void connect_shard(struct rconn *r)
{
    struct shard *sh = r->sh;
    struct cluster *cl = sh->cl;
    redisAsyncContext *ac = redisAsyncConnect(sh->rs.host, sh->rs.port);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        sh->retry_ms = cl->now_ms + sh->backoff_ms;
        return;
    }
    r->ac = ac;
    r->fd = ac->c.fd;
    r->mask = 0;
    r->inflight = 0;
    ac->data = r;
    ac->ev.data = r;
    ac->ev.addRead = ad_add_read;
    ac->ev.delRead = ad_del_read;
    ac->ev.addWrite = ad_add_write;
    ac->ev.delWrite = ad_del_write;
    ac->ev.cleanup = ad_cleanup;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* Commands queued now are written once connected, first of all. */
    r->ready = 1; /* for command(); on_connect or lost sets it right */
    const char *pw = cl->password[0] ? cl->password : sh->rs.password;
    if (pw[0]) {
        const char *argv[] = {"AUTH", sh->rs.user, pw};
        size_t lens[] = {4, strlen(sh->rs.user), strlen(pw)};
        if (sh->rs.user[0])
            command(r, on_setup, NULL, 3, argv, lens);
        else {
            argv[1] = pw;
            lens[1] = lens[2];
            command(r, on_setup, NULL, 2, argv, lens);
        }
    }
    /* Named in CLIENT LIST: which node, which connection. Node names are the operator's
     * and may hold anything: only characters Redis allows in a name. */
    char name[80];
    int n = snprintf(name, sizeof name, "tcpchatd-");
    for (const char *p = cl->name; *p && n < (int)sizeof name - 5; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch > ' ' && ch < 127)
            name[n++] = *p;
        else
            name[n++] = '_';
    }
    snprintf(name + n, sizeof name - (size_t)n, "-%s", r->sub ? "sub" : "cmd");
    const char *nargv[] = {"CLIENT", "SETNAME", name};
    command(r, on_setup, NULL, 3, nargv, NULL);
    if (r->sub) {
        r->inflight = 0;
        redisAsyncCommand(ac, on_message, r, "SUBSCRIBE tc:ev %s", cl->my_channel);
    } else {
        if (sh->rs.db) {
            char db[16];
            snprintf(db, sizeof db, "%d", sh->rs.db);
            const char *argv[] = {"SELECT", db};
            command(r, on_setup, NULL, 2, argv, NULL);
        }
        for (int s = 0; s < S_COUNT; s++) {
            const char *argv[] = {"SCRIPT", "LOAD", scripts[s]};
            size_t lens[] = {6, 4, strlen(scripts[s])};
            command(r, on_setup, NULL, 3, argv, lens);
        }
    }
    r->ready = 0;
}

/* --- this node's users ------------------------------------------------------------------------ */

/* S_USER: op 'U' (facts) or 'Q' for client id, with the event ev. */
static int user_script(struct cluster *cl, const char *op, uint64_t id, const char *facts,
                       size_t flen, const char *ev, size_t elen)
{
    char key[48], ids[24];
    snprintf(key, sizeof key, "tc:users:%llu", (unsigned long long)cl->node);
    snprintf(ids, sizeof ids, "%llu", (unsigned long long)id);
    const char *args[] = {key, op, ids, facts, ev};
    size_t lens[] = {strlen(key), 1, strlen(ids), flen, elen};
    return script(cl, 0, S_USER, NULL, NULL, 1, 5, args, lens);
}

/* A user's "U" event and its directory entry. */
static void pack_user(struct cluster *cl, const struct nick_info *info, struct pack *ev,
                      struct pack *facts)
{
    pack_init(facts);
    pack_facts(facts, cl->node, info);
    pack_init(ev);
    pack_str(ev, "U");
    pack_facts(ev, cl->node, info);
}

/* A local user announced again, waiting for the network's answer to its nick. */
struct reclaim {
    uint64_t id;
    int worker;
    char nick[IRC_NICK_MAX + 1];
};

/* The answer: the nick is still the user's (announced in the directory and to the nodes),
 * or someone else took it while this node was cut off, and the user takes another
 * (conn_hooks.nick_lost, on its worker; announced when that nick is granted). Either way no
 * node learns two users by one nick. Unanswered (Redis away again): announced at the next
 * return. */
static void reclaimed(struct cluster *cl, redisReply *rp, void *arg)
{
    struct reclaim *rc = arg;
    struct nick_info info;
    if (rp && rp->type == REDIS_REPLY_INTEGER && rp->integer == 0) {
        log_info("cluster: %s was taken on the network meanwhile; its user here is renamed",
                 rc->nick);
        if (cl->srv->hooks.nick_lost)
            fanout_call(cl->srv, rc->worker, rc->id, cl->srv->hooks.nick_lost, 0, CLUSTER_TAKEN,
                        rc->nick);
    } else if (rp && rp->type == REDIS_REPLY_INTEGER && nick_info(cl->srv, rc->nick, &info) == 0 &&
               info.id == rc->id) {
        struct pack ev, facts;
        pack_user(cl, &info, &ev, &facts);
        if (!ev.overflow && !facts.overflow)
            user_script(cl, "U", info.id, facts.buf, facts.len, ev.buf, ev.len);
    }
    free(rc);
}

/* cluster_learn_nick: the holder's facts from the directory, learned. */
static void got_facts(struct cluster *cl, redisReply *rp, void *arg)
{
    if (rp && rp->type == REDIS_REPLY_STRING) {
        struct unpack u;
        unpack_init(&u, rp->str, rp->len);
        learn_user(cl, &u);
    } else if (rp) {
        log_warn("cluster: the holder of %s is not in the directory", (char *)arg);
    }
    free(arg);
}

/* cluster_learn_nick: who holds the nick ("node:id"), then its facts. */
static void got_holder(struct cluster *cl, redisReply *rp, void *arg)
{
    char *end;
    unsigned long long node = 0, id = 0;
    if (rp && rp->type == REDIS_REPLY_STRING) {
        node = strtoull(rp->str, &end, 10);
        id = *end == ':' ? strtoull(end + 1, &end, 10) : 0;
    }
    if (!node || !id || node == cl->node) {
        free(arg);
        return;
    }
    char users[48], field[24];
    snprintf(users, sizeof users, "tc:users:%llu", node);
    snprintf(field, sizeof field, "%llu", id);
    const char *argv[] = {"HGET", users, field};
    if (command(&cl->shards[0].cmd, got_facts, arg, 3, argv, NULL) < 0)
        free(arg);
}

/* One local user, announced again (nick, then directory entry). */
static void announce_one(void *arg, const struct nick_info *info)
{
    struct cluster *cl = arg;
    struct reclaim *rc = malloc(sizeof *rc);
    if (!rc)
        return;
    *rc = (struct reclaim){.id = info->id, .worker = info->worker};
    snprintf(rc->nick, sizeof rc->nick, "%s", info->nick);
    if (nick_script(cl, S_CLAIM, info->nick, info->id, reclaimed, rc) < 0)
        free(rc);
}

static void run_chan(struct cluster *cl, struct req *q);
static struct req *req_new(enum req_kind kind, uint64_t id, const struct pack *ev,
                           const struct pack *facts);
static void pack_head(struct pack *p, struct cluster *cl, char kind, uint64_t who);
static void op_meta(struct pack *ops, const struct chan *ch, unsigned parts);
static void member_value(const struct member *m, char *out, size_t cap);
static void member_field(uint64_t id, char *out, size_t cap);
static void op4(struct pack *ops, const char *op, const char *key, const char *field,
                const char *value);

/* Sends ev and ops (S_CHAN) for ch from the cluster thread. */
static void announce_ops(struct cluster *cl, const struct chan *ch, const struct pack *ev,
                         const struct pack *ops)
{
    struct req *q = req_new(R_CHAN, 0, ev, ops);
    if (!q) {
        log_warn("cluster: could not announce %s again", chan_name(ch));
        return;
    }
    q->shard = shard_of(cl, chan_key(ch));
    snprintf(q->chan, sizeof q->chan, "%s", chan_name(ch));
    run_chan(cl, q);
    free(q);
}

/* One channel with members here (locked), after Redis came back or the network took this
 * node for gone: its settings (where the server has none) and lists in its keys again, and each
 * member of this node as a JOIN
 * (nodes that still have it ignore it; nodes that dropped it with this node take it back). */
static void announce_chan(void *arg, const struct chan *ch)
{
    struct cluster *cl = arg;
    struct pack *ev = malloc(sizeof *ev), *ops = malloc(sizeof *ops);
    if (!ev || !ops) {
        free(ev);
        free(ops);
        return;
    }
    pack_init(ev);
    pack_init(ops);
    /* Its settings only where the server has none (it came back empty, or the channel went
     * with this node): no part named, so S_CHAN keeps what it has. A server that kept its
     * data has the settings as the network changed them, those made here meanwhile too
     * (send_kept, just before): this node's copy may be older, and must not undo them. */
    op_meta(ops, ch, 0);
    announce_ops(cl, ch, ev, ops);
    /* Its lists (bans, exceptions, invite exceptions), some entries per request. */
    static const char letters[LIST_KINDS] = {'b', 'e', 'I'};
    pack_init(ops);
    for (int kind = 0; kind < LIST_KINDS; kind++) {
        for (int i = 0; i < ch->lists[kind].n; i++) {
            const struct mask_entry *e = &ch->lists[kind].v[i];
            char lf[MASK_MAX + 4], lv[SOURCE_MAX + 32];
            snprintf(lf, sizeof lf, "%c%s", letters[kind], e->mask);
            snprintf(lv, sizeof lv, "%lld %s", (long long)e->set_at, e->set_by);
            if (ops->len > PACK_MAX / 2) {
                announce_ops(cl, ch, ev, ops);
                pack_init(ops);
            }
            op4(ops, "L", chan_key(ch), lf, lv);
        }
    }
    if (ops->len)
        announce_ops(cl, ch, ev, ops);
    struct member *m, *tmp;
    HASH_ITER(hh, ch->members, m, tmp)
    {
        if (m->worker >= ch->nworkers)
            continue;
        char field[48], value[IRC_NICK_MAX + USER_MAX + HOST_MAX + 8], line[IRC_LINE_MAX];
        member_field(m->id, field, sizeof field);
        member_value(m, value, sizeof value);
        snprintf(line, sizeof line, ":%s!%s JOIN %s", m->nick, m->userhost, chan_name(ch));
        pack_head(ev, cl, 'J', m->id);
        pack_str(ev, chan_key(ch));
        pack_str(ev, chan_name(ch));
        pack_u64(ev, (uint64_t)(m->op | m->voice << 1));
        pack_str(ev, m->nick);
        pack_str(ev, m->userhost);
        pack_str(ev, ""); /* account, away: the directory has them */
        pack_str(ev, "");
        pack_str(ev, line);
        pack_str(ev, ""); /* no extended-join form */
        pack_str(ev, ""); /* settings: above */
        pack_u64(ev, ch->net_seq);
        pack_u64(ev, 0); /* the parts of them changed */
        pack_init(ops);
        op4(ops, "A", chan_key(ch), field, value);
        announce_ops(cl, ch, ev, ops);
    }
    free(ev);
    free(ops);
}

/* After Redis came back (maybe empty) or the network took this node for gone: every local
 * user's nick and facts again, its channel memberships, and this node in the node table. */
static void beat(struct cluster *cl);

/* The ids of this node's users now, as S_GHOSTS wants them. */
struct live_ids {
    const char **argv;
    size_t *lens;
    char (*ids)[24];
    int n, cap;
};

static void live_one(void *arg, const struct nick_info *info)
{
    struct live_ids *l = arg;
    if (l->n < l->cap) {
        snprintf(l->ids[l->n], sizeof l->ids[0], "%llu", (unsigned long long)info->id);
        l->argv[2 + l->n] = l->ids[l->n];
        l->lens[2 + l->n] = strlen(l->ids[l->n]);
        l->n++;
    }
}

static void nothing(void *arg, const struct nick_info *info)
{
    (void)info;
    ++*(int *)arg;
}

/* S_LEFT's answer: a QUIT the network took is done; one whose server went away again
 * before it answered waits for its return. */
static void quit_resent(struct cluster *cl, redisReply *rp, void *arg)
{
    struct quit *e = arg;
    if (rp)
        quits_done(&cl->quits, e);
    else
        quits_put_back(&cl->quits, e);
}

/* The QUITs of users who left while server shard was away, and the PARTs and KICKs of its
 * channels made meanwhile, published now with their own lines (S_LEFT), before S_GHOSTS parts
 * whatever else it finds gone with a generic one and the node announces its memberships of
 * now (a user who joined again meanwhile is back after its PART). */
static void send_quits(struct cluster *cl, int shard)
{
    char node[24], keep[16], id[24];
    snprintf(keep, sizeof keep, "%d", CLUSTER_LEFT_KEEP_S);
    int n = 0;
    struct quit *e;
    while ((e = quits_take(&cl->quits, shard)) != NULL) {
        /* the member's node: this one, but for a KICK of another node's user */
        snprintf(node, sizeof node, "%llu", (unsigned long long)(e->id >> CLUSTER_NODE_SHIFT));
        snprintf(id, sizeof id, "%llu", (unsigned long long)e->id);
        const char *args[] = {node, id, e->event, keep};
        size_t lens[] = {strlen(node), strlen(id), e->len, strlen(keep)};
        if (script(cl, shard, S_LEFT, quit_resent, e, 0, 4, args, lens) < 0) {
            quits_put_back(&cl->quits, e);
            break;
        }
        n++;
    }
    if (n)
        log_info("cluster: %d QUITs, PARTs and KICKs made while Redis %s:%d was away, sent", n,
                 cl->shards[shard].rs.host, cl->shards[shard].rs.port);
}

/* Back from a Redis outage with Redis's data kept (persistence): Redis may still hold users
 * of this node who left meanwhile, whose QUIT could not reach it. Those whose QUIT was kept
 * leave with it (send_quits); S_GHOSTS takes out the rest, what is not this node's now, on
 * every server, and tells the other nodes. */
static void reap_ghosts(struct cluster *cl)
{
    int count = 0;
    nick_each_local(cl->srv, nothing, &count);
    struct live_ids l = {.cap = count + 16};
    l.argv = calloc((size_t)l.cap + 2, sizeof *l.argv);
    l.lens = calloc((size_t)l.cap + 2, sizeof *l.lens);
    l.ids = calloc((size_t)l.cap, sizeof *l.ids);
    if (l.argv && l.lens && l.ids) {
        char node[24];
        static const char reason[] = "Left while the network was away";
        snprintf(node, sizeof node, "%llu", (unsigned long long)cl->node);
        l.argv[0] = node;
        l.lens[0] = strlen(node);
        l.argv[1] = reason;
        l.lens[1] = sizeof reason - 1;
        nick_each_local(cl->srv, live_one, &l);
        for (int i = 0; i < cl->nshards; i++) {
            if (!cl->shards[i].cmd.ready)
                continue;
            send_quits(cl, i);
            script(cl, i, S_GHOSTS, NULL, NULL, 0, 2 + l.n, l.argv, l.lens);
        }
    } else {
        log_warn("cluster: out of memory looking for users Redis kept of this node");
    }
    free(l.argv);
    free(l.lens);
    free(l.ids);
}

static void announce_users(struct cluster *cl)
{
    reap_ghosts(cl);
    /* The node itself first: a node that loads the directory between the two must find this
     * node in the table to find its users. */
    if (cl->shards[0].cmd.ready)
        beat(cl);
    else
        cl->beat_ms = 0;
    int n = nick_each_local(cl->srv, announce_one, cl);
    int k = chan_net_each_local(cl->srv, announce_chan, cl);
    log_info("cluster: announced this node's %d users and its members of %d channels to the "
             "network",
             n, k);
}

/* --- a worker's requests ------------------------------------------------------------------- */

static void tell_sender(struct cluster *cl, const char *sender, const char *target)
{
    int worker;
    uint64_t id;
    if (nick_find(cl->srv, sender, &worker, &id) < 0 || worker >= WORKER_REMOTE)
        return;
    struct event *ev = event_new(NULL,
                                 ":%s FAIL PRIVMSG TEMPORARILY_UNAVAILABLE %s :The network cannot "
                                 "reach %s now; message not sent, try again",
                                 cl->srv->cfg.server_name, target, target);
    if (ev)
        fanout_to_client(cl->srv, worker, id, ev);
    event_unref(ev);
}

struct pm_names {
    char sender[IRC_NICK_MAX + 1], target[IRC_NICK_MAX + 1];
};

static void pm_sent(struct cluster *cl, redisReply *rp, void *arg)
{
    struct pm_names *pn = arg;
    if (!rp || rp->type == REDIS_REPLY_ERROR)
        tell_sender(cl, pn->sender, pn->target);
    free(pn);
}

static void run_chan(struct cluster *cl, struct req *q);
static void run_ban(struct cluster *cl, const struct req *q);
static void run_creg(struct cluster *cl, const struct req *q);

static void run_request(struct cluster *cl, struct req *q)
{
    switch (q->kind) {
    case R_CLAIM: {
        struct claim *cm = malloc(sizeof *cm);
        if (cm) {
            *cm = (struct claim){.worker = q->worker, .id = q->id, .done = q->done};
            snprintf(cm->nick, sizeof cm->nick, "%s", q->nick);
        }
        if (!cm || claim_track(cl, q->id, q->nick) < 0 ||
            nick_script(cl, S_CLAIM, q->nick, q->id, claimed, cm) < 0) {
            if (cm)
                claim_forget(cl, q->id, q->nick, 0);
            free(cm);
            log_debug("cluster: claim of %s for client %llu: not sent", q->nick,
                      (unsigned long long)q->id);
            fanout_call(cl->srv, q->worker, q->id, q->done, 0, CLUSTER_UNAVAILABLE, q->nick);
        }
        break;
    }
    case R_RELEASE:
        if (q->nick[0]) {
            claim_forget(cl, q->id, q->nick, 0);
            nick_script(cl, S_RELEASE, q->nick, q->id, NULL, NULL);
        } else {
            claim_forget(cl, q->id, NULL, 1);
        }
        break;
    case R_USER:
        claim_forget(cl, q->id, q->nick, 0); /* taken up */
        user_script(cl, "U", q->id, q->data + q->len, q->facts_len, q->data, q->len);
        break;
    case R_NICK:
        claim_forget(cl, q->id, q->nick, 0);
        user_script(cl, "U", q->id, q->data + q->len, q->facts_len, q->data, q->len);
        nick_script(cl, S_RELEASE, q->old, q->id, NULL, NULL);
        break;
    case R_QUIT:
        claim_forget(cl, q->id, NULL, 1); /* anything granted that it never took up */
        user_script(cl, "Q", q->id, "", 0, q->data, q->len);
        nick_script(cl, S_RELEASE, q->nick, q->id, NULL, NULL);
        break;
    case R_LEARN: {
        struct nick_keys k;
        nick_keys(cl, q->nick, 0, &k);
        const char *argv[] = {"GET", k.key};
        char *nick = strdup(q->nick);
        if (!nick || command(&cl->shards[k.shard].cmd, got_holder, nick, 2, argv, NULL) < 0)
            free(nick);
        break;
    }
    case R_PMFILL: {
        char count[16], most[16];
        snprintf(count, sizeof count, "%d", CLUSTER_PM_BACKFILL);
        snprintf(most, sizeof most, "%d", CLUSTER_PM_CONVERSATIONS);
        const char *args[] = {q->nick, count, most};
        for (int i = 0; i < cl->nshards; i++)
            script(cl, i, S_PMFILL, pm_filled, NULL, 0, 3, args, NULL);
        break;
    }
    case R_PM: {
        char cap[24], channel[32], oldest[32];
        snprintf(cap, sizeof cap, "%ld", cl->history_max);
        snprintf(channel, sizeof channel, "tc:n:%llu", (unsigned long long)q->node);
        oldest_kept(cl, oldest, sizeof oldest);
        const char *args[] = {q->key,         cap,           channel, q->data, oldest,
                              q->accounts[0], q->accounts[1]};
        size_t lens[] = {
            strlen(q->key),         strlen(cap),           strlen(channel), q->len, strlen(oldest),
            strlen(q->accounts[0]), strlen(q->accounts[1])};
        struct pm_names *pn = malloc(sizeof *pn);
        if (pn) {
            snprintf(pn->sender, sizeof pn->sender, "%s", q->old);
            snprintf(pn->target, sizeof pn->target, "%s", q->nick);
        }
        if (!pn || script(cl, shard_of(cl, q->key), S_PM, pm_sent, pn, 1, 7, args, lens) < 0) {
            free(pn);
            tell_sender(cl, q->old, q->nick);
        }
        break;
    }
    case R_BROADCAST: {
        const char *argv[] = {"PUBLISH", "tc:ev", q->data};
        size_t lens[] = {7, 5, q->len};
        command(&cl->shards[0].cmd, NULL, NULL, 3, argv, lens);
        break;
    }
    case R_CHAN:
        run_chan(cl, q);
        break;
    case R_BAN:
        run_ban(cl, q);
        break;
    case R_CREG:
        run_creg(cl, q);
        break;
    case R_KILL: {
        char channel[32];
        snprintf(channel, sizeof channel, "tc:n:%llu", (unsigned long long)q->node);
        const char *argv[] = {"PUBLISH", channel, q->data};
        size_t lens[] = {7, strlen(channel), q->len};
        command(&cl->shards[0].cmd, NULL, NULL, 3, argv, lens);
        break;
    }
    }
}

/* The queue's eventfd: run what the workers asked for, in order. */
static void on_requests(struct loop_io *io, unsigned events)
{
    (void)events;
    struct cluster *cl = loop_owner(io, struct cluster, ev_io);
    uint64_t n;
    if (read(cl->evfd, &n, sizeof n) < 0 && errno != EAGAIN)
        log_warn("cluster: reading the queue's eventfd: %s", strerror(errno));
    pthread_mutex_lock(&cl->lock);
    struct req *q = cl->head;
    cl->head = cl->tail = NULL;
    cl->queued = 0;
    pthread_mutex_unlock(&cl->lock);
    while (q) {
        struct req *next = q->next;
        run_request(cl, q);
        free(q);
        q = next;
    }
}

/* Queues q for the cluster thread (which frees it). 0, or -1 (q freed) when the queue is full
 * or the node is stopping. */
static int enqueue(struct cluster *cl, struct req *q)
{
    pthread_mutex_lock(&cl->lock);
    int ok = !cl->stopping && cl->queued < CLUSTER_QUEUE_MAX;
    if (ok) {
        q->next = NULL;
        if (cl->tail)
            cl->tail->next = q;
        else
            cl->head = q;
        cl->tail = q;
        cl->queued++;
    }
    pthread_mutex_unlock(&cl->lock);
    if (!ok) {
        free(q);
        return -1;
    }
    uint64_t one = 1;
    if (write(cl->evfd, &one, sizeof one) < 0)
        log_warn("cluster: waking the cluster thread: %s", strerror(errno));
    return 0;
}

/* A request with room for an event and facts (either may be NULL). */
static struct req *req_new(enum req_kind kind, uint64_t id, const struct pack *ev,
                           const struct pack *facts)
{
    if ((ev && ev->overflow) || (facts && facts->overflow))
        return NULL;
    size_t elen = ev ? ev->len : 0, flen = facts ? facts->len : 0;
    struct req *q = calloc(1, sizeof *q + elen + flen + 1);
    if (!q)
        return NULL;
    q->kind = kind;
    q->id = id;
    q->len = elen;
    q->facts_len = flen;
    if (elen)
        memcpy(q->data, ev->buf, elen);
    if (flen)
        memcpy(q->data + elen, facts->buf, flen);
    return q;
}

int cluster_claim(struct server *srv, int worker, uint64_t id, const char *nick, mb_client_fn *done)
{
    struct req *q = req_new(R_CLAIM, id, NULL, NULL);
    if (!q)
        return -1;
    q->worker = worker;
    q->done = done;
    snprintf(q->nick, sizeof q->nick, "%s", nick);
    return enqueue(srv->cluster, q);
}

void cluster_release(struct server *srv, uint64_t id, const char *nick)
{
    struct req *q = req_new(R_RELEASE, id, NULL, NULL);
    if (!q)
        return;
    snprintf(q->nick, sizeof q->nick, "%s", nick ? nick : "");
    enqueue(srv->cluster, q);
}

void cluster_learn_nick(struct server *srv, const char *nick)
{
    struct req *q = req_new(R_LEARN, 0, NULL, NULL);
    if (!q)
        return;
    snprintf(q->nick, sizeof q->nick, "%s", nick);
    enqueue(srv->cluster, q);
}

void cluster_private_history(struct server *srv, const char *account)
{
    struct cluster *cl = srv->cluster;
    if (!srv->hist)
        return;
    struct req *q = req_new(R_PMFILL, 0, NULL, NULL);
    if (!q)
        return;
    ircname_fold(account, q->nick, sizeof q->nick);
    enqueue(cl, q);
}

void cluster_user(struct server *srv, const struct nick_info *info)
{
    struct cluster *cl = srv->cluster;
    struct pack ev, facts;
    pack_user(cl, info, &ev, &facts);
    struct req *q = req_new(R_USER, info->id, &ev, &facts);
    if (!q)
        return;
    snprintf(q->nick, sizeof q->nick, "%s", info->nick);
    enqueue(cl, q);
}

void cluster_user_nick(struct server *srv, const struct nick_info *info, const char *old)
{
    struct cluster *cl = srv->cluster;
    struct pack ev, facts;
    pack_init(&facts);
    pack_facts(&facts, cl->node, info);
    pack_init(&ev);
    pack_str(&ev, "N");
    pack_u64(&ev, cl->node);
    pack_u64(&ev, info->id);
    pack_str(&ev, old);
    pack_str(&ev, info->nick);
    struct req *q = req_new(R_NICK, info->id, &ev, &facts);
    if (!q)
        return;
    snprintf(q->old, sizeof q->old, "%s", old);
    snprintf(q->nick, sizeof q->nick, "%s", info->nick);
    enqueue(cl, q);
}

void cluster_user_quit(struct server *srv, uint64_t id, const char *nick, const char *reason)
{
    struct cluster *cl = srv->cluster;
    struct pack ev;
    pack_init(&ev);
    pack_str(&ev, "Q");
    pack_u64(&ev, cl->node);
    pack_u64(&ev, id);
    pack_str(&ev, nick);
    pack_str(&ev, reason);
    struct req *q = req_new(R_QUIT, id, &ev, NULL);
    if (!q)
        return;
    snprintf(q->nick, sizeof q->nick, "%s", nick);
    enqueue(cl, q);
}

/* The nick of a line's ":nick!user@host" prefix, and its first parameter after the verb. */
static void line_names(const char *line, size_t len, char *sender, char *target, size_t cap)
{
    sender[0] = target[0] = '\0';
    const char *end = line + len;
    if (len < 2 || line[0] != ':')
        return;
    const char *p = line + 1;
    size_t n = strcspn(p, "! ");
    snprintf(sender, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    p = memchr(p, ' ', (size_t)(end - p));                    /* before the verb */
    p = p ? memchr(p + 1, ' ', (size_t)(end - p - 1)) : NULL; /* before the target */
    if (!p)
        return;
    p++;
    n = strcspn(p, " \r\n");
    snprintf(target, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
}

/* srv->remote.to_client: ev for client id on worker of its node, stored with the
 * conversation's history in Redis, then published to that node. */
static void remote_to_client(void *arg, int worker, uint64_t id, struct event *ev)
{
    struct cluster *cl = arg;
    const char *line = ev->line->data;
    size_t len = ev->line->len >= 2 ? ev->line->len - 2 : 0; /* without CR LF */
    char sender[IRC_NICK_MAX + 1], target[IRC_NICK_MAX + 1];
    line_names(line, len, sender, target, sizeof sender);
    struct pack p;
    pack_init(&p);
    pack_str(&p, "P");
    pack_u64(&p, cl->node);
    pack_u64(&p, id);
    pack_u64(&p, (uint64_t)worker);
    pack_u64(&p, ev->need_cap);
    pack_u64(&p, (uint64_t)ev->tags_only);
    pack_u64(&p, (uint64_t)ev->bot);
    pack_str(&p, ev->msgid);
    pack_str(&p, ev->time);
    pack_u64(&p, (uint64_t)ev->time_ms);
    pack_str(&p, ev->account);
    pack_str(&p, ev->client_tags);
    pack_message_line(&p, ev);
    struct nick_info info;
    int known = nick_info(cl->srv, target, &info) == 0 && info.id == id;
    pack_str(&p, known ? info.account : ""); /* the target's: for its history */
    pack_message_ml(&p, ev);
    struct req *q = req_new(R_PM, id, &p, NULL);
    if (!q) {
        tell_sender(cl, sender, target);
        return;
    }
    ircname_fold(ev->account, q->accounts[0], sizeof q->accounts[0]);
    if (known)
        ircname_fold(info.account, q->accounts[1], sizeof q->accounts[1]);
    q->node = id >> CLUSTER_NODE_SHIFT;
    snprintf(q->old, sizeof q->old, "%s", sender);
    snprintf(q->nick, sizeof q->nick, "%s", target);
    /* One stream per pair of users, whichever way the message goes. */
    char a[IRC_NICK_MAX + 1], b[IRC_NICK_MAX + 1];
    ircname_fold(sender, a, sizeof a);
    ircname_fold(target, b, sizeof b);
    int swap = strcmp(a, b) > 0;
    snprintf(q->key, sizeof q->key, "tc:pm:%s %s", swap ? b : a, swap ? a : b);
    if (enqueue(cl, q) < 0)
        tell_sender(cl, sender, target);
}

/* 'A' (an announcement's text) or 'W' (a WALLOPS line) for every other node. */
static void broadcast(struct server *srv, const char *kind, const char *text)
{
    struct cluster *cl = srv->cluster;
    if (!cl)
        return;
    struct pack p;
    pack_init(&p);
    pack_str(&p, kind);
    pack_u64(&p, cl->node);
    pack_str(&p, text);
    struct req *q = req_new(R_BROADCAST, 0, &p, NULL);
    if (q)
        enqueue(cl, q);
}

void cluster_announce(struct server *srv, const char *text)
{
    broadcast(srv, "A", text);
}

void cluster_wallops(struct server *srv, const char *line)
{
    broadcast(srv, "W", line);
}

/* srv->remote.kill: KILL of a user on another node. */
static void remote_kill(void *arg, int worker, uint64_t id, const char *reason)
{
    struct cluster *cl = arg;
    struct pack p;
    pack_init(&p);
    pack_str(&p, "K");
    pack_u64(&p, cl->node);
    pack_u64(&p, id);
    pack_u64(&p, (uint64_t)worker);
    pack_str(&p, reason);
    struct req *q = req_new(R_KILL, id, &p, NULL);
    if (!q)
        return;
    q->node = id >> CLUSTER_NODE_SHIFT;
    enqueue(cl, q);
}

/* --- server bans ------------------------------------------------------------------------------ */

/* The network's K-lines and D-lines live on the first server in tc:bans (field: the kind's
 * letter and the mask; value: pack_ban), changed by S_BAN with a B or b event. Every node
 * applies those events to its table (store/ban.c), its own ones too: so a ban set or lifted
 * on two nodes at once ends as the first server ordered it, everywhere. */

static void pack_ban(struct pack *p, const struct ban *b)
{
    pack_str(p, b->kind == BAN_KLINE ? "K" : "D");
    pack_str(p, b->mask);
    pack_str(p, b->reason);
    pack_str(p, b->setter);
    pack_u64(p, (uint64_t)b->set_at);
    pack_u64(p, (uint64_t)b->expires);
}

/* The kind and mask as pack_ban packs them, into kind and mask (BAN_MASK_MAX + 1 bytes). 0,
 * or -1 when malformed. */
static int unpack_ban_name(struct unpack *u, enum ban_kind *kind, char *mask)
{
    char k[2];
    unpack_str(u, k, sizeof k);
    unpack_str(u, mask, BAN_MASK_MAX + 1);
    *kind = k[0] == 'K' ? BAN_KLINE : BAN_DLINE;
    return u->bad || (k[0] != 'K' && k[0] != 'D') ? -1 : 0;
}

/* The other half of pack_ban: 0, or -1 if malformed (the mask is checked as an operator's
 * is: what comes from Redis is input like any other). */
static int unpack_ban(struct unpack *u, struct ban *b)
{
    enum ban_kind kind;
    char mask[BAN_MASK_MAX + 1], why[128];
    if (unpack_ban_name(u, &kind, mask) < 0 || ban_parse(kind, mask, b, why, sizeof why) != BAN_OK)
        return -1;
    unpack_str(u, b->reason, sizeof b->reason);
    unpack_str(u, b->setter, sizeof b->setter);
    b->set_at = (long long)unpack_u64(u);
    b->expires = (long long)unpack_u64(u);
    return u->bad || b->set_at < 0 || b->expires < 0 ? -1 : 0;
}

/* Queues a change of what the first server keeps (bans, registrations): packs[0] the event,
 * packs[1] the value (both freed here). 0, or -1 when it cannot go now: the queue is full, or
 * the first server is down (the change then holds here only, docs/cluster.md). */
static int queue_first(struct cluster *cl, enum req_kind kind, uint64_t id, struct pack *packs)
{
    struct req *q = req_new(kind, id, &packs[0], &packs[1]);
    free(packs);
    if (!q || enqueue(cl, q) < 0)
        return -1;
    return atomic_load(&cl->shards[0].cmd.up_since) ? 0 : -1;
}

/* The table's store in a cluster (ban_use_network): a change of this node's table goes to
 * Redis. Runs on the worker of the operator (or the acceptor, for an expiry): it only
 * queues. -1 when the network cannot take it now (the first Redis away, the queue full). */
static int save_ban(void *arg, const struct ban *b, enum ban_save how)
{
    struct cluster *cl = arg;
    struct pack *ev = malloc(2 * sizeof *ev);
    if (!ev)
        return -1;
    struct pack *value = ev + 1;
    pack_init(value);
    pack_ban(value, b);
    pack_init(ev);
    pack_str(ev, how == BAN_SAVE_SET ? "B" : "b");
    pack_u64(ev, cl->node);
    if (how == BAN_SAVE_SET) {
        pack_ban(ev, b);
    } else {
        pack_str(ev, b->kind == BAN_KLINE ? "K" : "D");
        pack_str(ev, b->mask);
    }
    return queue_first(cl, R_BAN, (uint64_t)how, ev);
}

/* S_BAN: op ('+', '-' or 'e') on the ban packed in value, with its event. */
static int send_ban(struct cluster *cl, const char *op, const char *value, size_t vlen,
                    const char *ev, size_t elen)
{
    struct unpack u;
    unpack_init(&u, value, vlen);
    enum ban_kind kind;
    char mask[BAN_MASK_MAX + 1], field[BAN_MASK_MAX + 2];
    if (unpack_ban_name(&u, &kind, mask) < 0)
        return 0; /* malformed: nothing to send, now or later */
    snprintf(field, sizeof field, "%c%s", kind == BAN_KLINE ? 'K' : 'D', mask);
    const char *args[] = {"tc:bans", op, field, value, ev};
    size_t lens[] = {7, 1, strlen(field), vlen, elen};
    if (script(cl, 0, S_BAN, NULL, NULL, 1, 5, args, lens) < 0) {
        if (op[0] != 'e')
            log_warn("cluster: the change of the ban on %s could not reach Redis; it holds on "
                     "this node until Redis returns",
                     mask);
        return -1;
    }
    return 0;
}

/* A change of a server ban or a registration that the first server could not take (away),
 * or of a channel's settings (TOPIC, MODE, INVITE) that its server could not: kept, up to
 * CLUSTER_KEPT_MAX, to go when that server returns (send_kept), rather than be undone there
 * by its list or never reach the other nodes. 0, or -1 when there is no room. */
static int keep_request(struct cluster *cl, const struct req *q)
{
    struct req *copy = NULL;
    if (cl->nkept < CLUSTER_KEPT_MAX &&
        (copy = malloc(sizeof *q + q->len + q->facts_len + 1)) != NULL) {
        memcpy(copy, q, sizeof *q + q->len + q->facts_len + 1);
        copy->next = NULL;
        struct req **end = &cl->kept;
        while (*end)
            end = &(*end)->next;
        *end = copy;
        cl->nkept++;
        return 0;
    }
    return -1;
}

/* The changes kept while server shard was away, sent in the order they were made, on its
 * connection before anything else asks for its lists (the snapshot) or puts the node's
 * channels back (announce_users). */
static void send_kept(struct cluster *cl, int shard)
{
    struct req *q = cl->kept, **rest = &cl->kept;
    int n = 0;
    cl->kept = NULL;
    while (q) {
        struct req *next = q->next;
        if (q->shard == shard) {
            cl->nkept--;
            n++;
            run_request(cl, q); /* kept again if the server went away again */
            free(q);
        } else { /* another server's: waits on, in order */
            q->next = NULL;
            *rest = q;
            rest = &q->next;
        }
        q = next;
    }
    if (n)
        log_info("cluster: %d changes (server bans, registrations, channel settings) made while "
                 "Redis %s:%d was away, sent",
                 n, cl->shards[shard].rs.host, cl->shards[shard].rs.port);
}

/* A change queued by save_ban: q->id the change, q->data the event, then the ban. */
static void run_ban(struct cluster *cl, const struct req *q)
{
    const char *op = q->id == BAN_SAVE_SET ? "+" : q->id == BAN_SAVE_LIFT ? "-" : "e";
    if (send_ban(cl, op, q->data + q->len, q->facts_len, q->data, q->len) < 0 && op[0] != 'e' &&
        keep_request(cl, q) < 0)
        log_warn("cluster: a change of a server ban could not reach Redis, nor be kept for its "
                 "return (%d are); it holds on this node only",
                 CLUSTER_KEPT_MAX);
}

/* Ban b of this node's table, put back into a first server that lost its data. */
static void put_back_ban(struct cluster *cl, const struct ban *b)
{
    struct pack *p = malloc(2 * sizeof *p);
    if (!p)
        return;
    pack_init(&p[0]);
    pack_ban(&p[0], b);
    pack_init(&p[1]);
    pack_str(&p[1], "B");
    pack_u64(&p[1], cl->node);
    pack_ban(&p[1], b);
    send_ban(cl, "+", p[0].buf, p[0].len, p[1].buf, p[1].len);
    free(p);
}

/* A B (set) or b (lifted) event: the table follows; a new ban closes the local users it
 * matches, as one set here does. */
static void apply_ban(struct cluster *cl, char kind, struct unpack *u)
{
    unpack_u64(u); /* the origin: this node's own changes are applied too (see above) */
    if (kind == 'b') {
        enum ban_kind k;
        char mask[BAN_MASK_MAX + 1];
        if (unpack_ban_name(u, &k, mask) == 0 && ban_forget(k, mask))
            log_event(LOG_INFO, "ban removed on the network",
                      LOG_TEXT("kind", k == BAN_KLINE ? "K-line" : "D-line"),
                      LOG_TEXT("mask", mask));
        return;
    }
    struct ban b;
    if (unpack_ban(u, &b) < 0 || (b.expires && b.expires <= (long long)time(NULL)))
        return;
    unsigned long long seq = ban_learn(&b);
    if (!seq)
        return; /* known already: set here, or an echo */
    log_event(LOG_INFO, "ban set on the network",
              LOG_TEXT("kind", b.kind == BAN_KLINE ? "K-line" : "D-line"), LOG_TEXT("mask", b.mask),
              LOG_TEXT("by", b.setter), LOG_TEXT("reason", b.reason));
    if (cl->srv->hooks.ban_sweep)
        cl->srv->hooks.ban_sweep(cl->srv, seq);
}

/* This node's bans, copied out of the table (ban_each). */
struct ban_copy {
    struct ban *list;
    int n;
};

static void copy_ban(void *arg, const struct ban *b)
{
    struct ban_copy *c = arg;
    if (c->n < BANS_MAX)
        c->list[c->n++] = *b;
}

/* The first server's bans (S_SNAP's last element). At start, and from a server that kept its
 * data, they are the network's: the table becomes them. A server whose data is new (it
 * restarted empty) gets this node's bans back, as it gets its users, and what other nodes put
 * back meanwhile is added. */
static void load_bans(struct cluster *cl, const redisReply *list, int replace)
{
    struct ban *net = malloc(2 * BANS_MAX * sizeof *net);
    if (!net) {
        log_warn("cluster: out of memory for the network's bans; not loaded");
        return;
    }
    int n = 0;
    for (size_t i = 0; i < list->elements && n < BANS_MAX; i++) {
        const redisReply *e = list->element[i];
        struct unpack u;
        if (e->type != REDIS_REPLY_STRING)
            continue;
        unpack_init(&u, e->str, e->len);
        if (unpack_ban(&u, &net[n]) == 0)
            n++;
    }
    unsigned long long seq = 0;
    if (replace) {
        seq = ban_learn_all(net, n);
    } else {
        struct ban_copy mine = {net + BANS_MAX, 0};
        ban_each(BAN_KLINE, copy_ban, &mine);
        ban_each(BAN_DLINE, copy_ban, &mine);
        for (int i = 0; i < mine.n; i++) {
            int there = 0;
            for (int j = 0; j < n && !there; j++)
                there =
                    net[j].kind == mine.list[i].kind && strcmp(net[j].mask, mine.list[i].mask) == 0;
            if (!there)
                put_back_ban(cl, &mine.list[i]);
        }
        for (int j = 0; j < n; j++) {
            unsigned long long s = ban_learn(&net[j]);
            if (s && !seq)
                seq = s;
        }
    }
    free(net);
    if (n)
        log_info("cluster: %d server bans on the network", n);
    if (seq && cl->srv->hooks.ban_sweep)
        cl->srv->hooks.ban_sweep(cl->srv, seq);
}

/* --- channel registrations ----------------------------------------------------------------- */

/* The network's registered channels (ChanServ) live on the first server in tc:creg (field: the
 * folded name; value: pack_creg, the whole registration), changed by S_CREG with a G (set) or
 * g (dropped) event. Every node applies those events to its table (store/chanreg.c), its own
 * ones too: a registration changed on two nodes at once ends as the first server ordered it.
 * A change carries the whole registration (an access list is at most CHANREG_ACCESS_MAX
 * entries), so applying one needs nothing else. */

static void pack_creg(struct pack *p, const struct chanreg_info *info)
{
    pack_str(p, info->name);
    pack_str(p, info->founder);
    pack_u64(p, (uint64_t)info->registered);
    pack_u64(p, (uint64_t)info->naccess);
    for (int i = 0; i < info->naccess; i++) {
        char mode[2] = {info->access[i].mode, '\0'};
        pack_str(p, info->access[i].account);
        pack_str(p, mode);
    }
}

/* The other half of pack_creg: 0, or -1 if malformed (chanreg_learn checks the names). */
static int unpack_creg(struct unpack *u, struct chanreg_info *info)
{
    unpack_str(u, info->name, sizeof info->name);
    unpack_str(u, info->founder, sizeof info->founder);
    info->registered = (long long)unpack_u64(u);
    uint64_t n = unpack_u64(u);
    if (u->bad || n > CHANREG_ACCESS_MAX)
        return -1;
    info->naccess = (int)n;
    for (int i = 0; i < info->naccess; i++) {
        char mode[2];
        unpack_str(u, info->access[i].account, sizeof info->access[i].account);
        unpack_str(u, mode, sizeof mode);
        info->access[i].mode = mode[0];
    }
    return u->bad ? -1 : 0;
}

/* The table's store in a cluster (chanreg_use_network): a change of this node's table goes to
 * Redis. Runs on the worker of the user who made it: it only queues. -1 when the network
 * cannot take it now (the first Redis away, the queue full). */
static int save_creg(void *arg, const char *name, const struct chanreg_info *info)
{
    struct cluster *cl = arg;
    struct pack *ev = malloc(2 * sizeof *ev);
    if (!ev)
        return -1;
    struct pack *value = ev + 1;
    pack_init(value);
    pack_init(ev);
    pack_str(ev, info ? "G" : "g");
    pack_u64(ev, cl->node);
    if (info) {
        pack_creg(value, info);
        pack_creg(ev, info);
    } else {
        pack_str(value, name);
        pack_str(ev, name);
    }
    return queue_first(cl, R_CREG, info != NULL, ev);
}

/* A change queued by save_creg: q->id 1 set, 0 dropped; q->data the event, then the value
 * (whose first field is the channel's name). */
static void run_creg(struct cluster *cl, const struct req *q)
{
    struct unpack u;
    char name[IRC_CHANNEL_MAX + 1], field[IRC_CHANNEL_MAX + 1];
    unpack_init(&u, q->data + q->len, q->facts_len);
    unpack_str(&u, name, sizeof name);
    if (u.bad)
        return;
    ircname_fold(name, field, sizeof field);
    const char *args[] = {"tc:creg", q->id ? "+" : "-", field, q->data + q->len, q->data};
    size_t lens[] = {7, 1, strlen(field), q->facts_len, q->len};
    if (script(cl, 0, S_CREG, NULL, NULL, 1, 5, args, lens) < 0)
        log_warn("cluster: the registration of %s could not reach Redis; it holds on this node "
                 "%s",
                 name, keep_request(cl, q) == 0 ? "until Redis returns" : "only (too many kept)");
}

/* A registration of this node's table, put back into a first server that lost its data. */
static void put_back_creg(void *arg, const struct chanreg_info *info)
{
    save_creg(arg, info->name, info);
}

/* A G (set) or g (dropped) event: the table follows. */
static void apply_creg(char kind, struct unpack *u)
{
    unpack_u64(u); /* the origin: this node's own changes are applied too (see above) */
    if (kind == 'g') {
        char name[IRC_CHANNEL_MAX + 1];
        unpack_str(u, name, sizeof name);
        if (!u->bad)
            chanreg_unlearn(name);
        return;
    }
    struct chanreg_info *info = malloc(sizeof *info);
    if (info && unpack_creg(u, info) == 0)
        chanreg_learn(info);
    free(info);
}

/* The first server's registrations (S_SNAP's last element). At start, and from a server that
 * kept its data, they are the network's: the table becomes them. A server whose data is new
 * gets this node's registrations back, and what other nodes put back is added. */
static void load_cregs(struct cluster *cl, const redisReply *list, int replace)
{
    struct chanreg_info *info = malloc(sizeof *info);
    if (!info) {
        log_warn("cluster: out of memory for the network's channel registrations; not loaded");
        return;
    }
    chanreg_sync_begin();
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *e = list->element[i];
        struct unpack u;
        if (e->type != REDIS_REPLY_STRING)
            continue;
        unpack_init(&u, e->str, e->len);
        if (unpack_creg(&u, info) == 0)
            chanreg_learn(info);
    }
    chanreg_sync_end(replace, put_back_creg, cl);
    free(info);
    if (list->elements)
        log_info("cluster: %zu registered channels on the network", list->elements);
}

/* --- a single node's files carried into the network ---------------------------------------- */

/* A node that ran alone before (--data-dir without --cluster) kept its server bans in bans.db
 * and its registered channels in channels.db; in a network they are the first server's
 * (tc:bans, tc:creg). At every start, over the start's blocking connection and before the
 * snapshot loads the network's lists (so before any client comes in), what those files hold
 * and the network lacks goes into Redis with its event (B, G), as if set on this node then:
 * the running nodes take it into their tables (a ban closes the users it matches), this node
 * with its snapshot. What the network has already stays as the network has it; the files are
 * only read. The accounts were carried before (account_open runs before cluster_open), so a
 * registration whose founder is not on the network, or is someone else there, is known. */

/* KEYS the hash (tc:bans or tc:creg), the memo of what was carried (tc:carried); ARGV a
 * field, its value (packed), its event, the most fields the hash may have (0: no bound), its
 * memo (the kind, the field, what identifies the value). Adds the field, with its event, only
 * if the hash has no field of that name, the memo says it was never carried (carried once and
 * gone from the network since: lifted or dropped there, it stays so), and the hash has room:
 * 1 added (and remembered), 0 carried once, -1 full, else the network's value (it stays). Run
 * at start only (EVAL), so not loaded on every link as scripts[] are. */
static const char carry_script[] =
    "local cur = redis.call('HGET', KEYS[1], ARGV[1]) if cur then return cur end "
    "if redis.call('SISMEMBER', KEYS[2], ARGV[5]) == 1 then return 0 end "
    "local max = tonumber(ARGV[4]) "
    "if max > 0 and redis.call('HLEN', KEYS[1]) >= max then return -1 end "
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) redis.call('PUBLISH', 'tc:ev', ARGV[3]) "
    "redis.call('SADD', KEYS[2], ARGV[5]) return 1";

/* A founder's count of registered channels on the network (CHANREG_PER_ACCOUNT). */
struct founded {
    char key[IRC_NICK_MAX + 1]; /* the account, folded */
    int n;
    UT_hash_handle hh;
};

/* One file being carried. */
struct carry {
    struct cluster *cl;
    redisContext *c;           /* the first server */
    char path[PATH_MAX];       /* the file, for the log */
    struct pack *p;            /* two: the value, the event */
    struct chanreg_info *info; /* room for one registration */
    struct founded *founded;   /* registrations: by founder */
    int read, carried, had;    /* had: the network has it as it is (carried before) */
    int failed;                /* Redis failed: the rest waits for the next start */
};

enum carry_result { CARRIED, CARRY_HAD, CARRY_ONCE, CARRY_FULL, CARRY_FAILED };

/* carry_script for field of key, with k->p[0] the value, k->p[1] the event and memo what was
 * carried. CARRY_HAD leaves the network's value in *have (freeReplyObject it). */
static enum carry_result carry_field(struct carry *k, const char *key, const char *field, int max,
                                     const char *memo, redisReply **have)
{
    char bound[16];
    snprintf(bound, sizeof bound, "%d", max);
    const char *argv[] = {"EVAL", carry_script, "2",         key,   "tc:carried",
                          field,  k->p[0].buf,  k->p[1].buf, bound, memo};
    size_t lens[] = {4,
                     sizeof carry_script - 1,
                     1,
                     strlen(key),
                     strlen("tc:carried"),
                     strlen(field),
                     k->p[0].len,
                     k->p[1].len,
                     strlen(bound),
                     strlen(memo)};
    *have = NULL;
    if (k->p[0].overflow || k->p[1].overflow)
        return CARRY_FAILED;
    redisReply *r = redisCommandArgv(k->c, 10, argv, lens);
    if (r && r->type == REDIS_REPLY_STRING) {
        *have = r;
        return CARRY_HAD;
    }
    enum carry_result res = !r || r->type != REDIS_REPLY_INTEGER ? CARRY_FAILED
                            : r->integer == 1                    ? CARRIED
                            : r->integer == 0                    ? CARRY_ONCE
                                                                 : CARRY_FULL;
    if (res == CARRY_FAILED) {
        log_warn("cluster: cannot carry %s into Redis: %s", k->path,
                 r && r->str ? r->str : k->c->errstr);
        k->failed = 1;
    }
    freeReplyObject(r);
    return res;
}

/* The network has what k's file holds, as it is (carried at an earlier start, maybe before the
 * memo was kept): it is counted, and remembered as carried. */
static void carry_remember(struct carry *k, const char *memo)
{
    k->had++;
    redisReply *r = redisCommand(k->c, "SADD tc:carried %s", memo);
    freeReplyObject(r);
}

/* Whether the network's value is the one carried (this file's, carried at an earlier start). */
static int same_value(const redisReply *have, const struct pack *value)
{
    return have->len == value->len && memcmp(have->str, value->buf, value->len) == 0;
}

/* ban_file_each: one ban of bans.db. */
static void carry_ban(void *arg, const struct ban *b)
{
    struct carry *k = arg;
    if (k->failed)
        return;
    k->read++;
    const char *kind = b->kind == BAN_KLINE ? "K" : "D";
    char field[BAN_MASK_MAX + 2];
    snprintf(field, sizeof field, "%s%s", kind, b->mask);
    pack_init(&k->p[0]);
    pack_ban(&k->p[0], b);
    pack_init(&k->p[1]);
    pack_str(&k->p[1], "B");
    pack_u64(&k->p[1], k->cl->node);
    pack_ban(&k->p[1], b);
    /* the memo: the ban as it is (set again since, with another time or reason, it is
     * another) */
    char *memo = malloc(sizeof field + k->p[0].len + 4);
    if (!memo) {
        k->failed = 1;
        return;
    }
    snprintf(memo, sizeof field + k->p[0].len + 4, "B %s %.*s", field, (int)k->p[0].len,
             k->p[0].buf);
    redisReply *have = NULL;
    switch (carry_field(k, "tc:bans", field, BANS_MAX, memo, &have)) {
    case CARRIED:
        k->carried++;
        break;
    case CARRY_ONCE:
        k->had++;
        break;
    case CARRY_HAD:
        if (same_value(have, &k->p[0]))
            carry_remember(k, memo);
        else
            log_warn("cluster: the %s-line on %s of %s is on the network already, set otherwise "
                     "there; the network's stays",
                     kind, b->mask, k->path);
        freeReplyObject(have);
        break;
    case CARRY_FULL:
        log_warn("cluster: the %s-line on %s of %s is not carried: the network has %d bans "
                 "(BANS_MAX)",
                 kind, b->mask, k->path, BANS_MAX);
        break;
    case CARRY_FAILED:
        break;
    }
    free(memo);
}

/* The count of channels founder has on the network, plus add. */
static int founded(struct carry *k, const char *founder, int add)
{
    char key[IRC_NICK_MAX + 1];
    ircname_fold(founder, key, sizeof key);
    struct founded *f = NULL;
    HASH_FIND_STR(k->founded, key, f);
    if (!f && add && (f = calloc(1, sizeof *f))) {
        snprintf(f->key, sizeof f->key, "%s", key);
        HASH_ADD_STR(k->founded, key, f);
    }
    if (f)
        f->n += add;
    return f ? f->n : 0;
}

/* The network's registrations counted by founder (for CHANREG_PER_ACCOUNT): 0, or -1 if
 * Redis failed. */
static int count_founded(struct carry *k)
{
    redisReply *r = redisCommand(k->c, "HVALS tc:creg");
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        log_warn("cluster: cannot read the network's registrations to carry %s: %s", k->path,
                 r && r->str ? r->str : k->c->errstr);
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        struct unpack u;
        if (e->type != REDIS_REPLY_STRING)
            continue;
        unpack_init(&u, e->str, e->len);
        if (unpack_creg(&u, k->info) == 0)
            founded(k, k->info->founder, 1);
    }
    freeReplyObject(r);
    return 0;
}

/* chanreg_file_each: one registration of channels.db. Its founder must be this node's
 * account on the network (account_of_this_node); the access list keeps the accounts that
 * are. */
static void carry_creg(void *arg, const struct chanreg_info *file)
{
    struct carry *k = arg;
    struct server *srv = k->cl->srv;
    if (k->failed)
        return;
    k->read++;
    if (!account_of_this_node(srv, file->founder)) {
        log_warn("cluster: %s of %s is not carried: its founder %s is not %s account on the "
                 "network",
                 file->name, k->path, file->founder,
                 account_exists(srv, file->founder) ? "this node's" : "an");
        return;
    }
    struct chanreg_info *info = k->info;
    *info = *file;
    info->naccess = 0;
    for (int i = 0; i < file->naccess; i++)
        if (account_of_this_node(srv, file->access[i].account))
            info->access[info->naccess++] = file->access[i];
    char field[IRC_CHANNEL_MAX + 1];
    ircname_fold(info->name, field, sizeof field);
    pack_init(&k->p[0]);
    pack_creg(&k->p[0], info);
    pack_init(&k->p[1]);
    pack_str(&k->p[1], "G");
    pack_u64(&k->p[1], k->cl->node);
    pack_creg(&k->p[1], info);
    /* The founder's bound counts only for a channel the network lacks: one carried at an
     * earlier start is among the founder's channels already. */
    /* the memo: the registration's founder and time (its access list may change) */
    char memo[IRC_CHANNEL_MAX + IRC_NICK_MAX + 32];
    snprintf(memo, sizeof memo, "G %s %s %lld", field, info->founder, (long long)info->registered);
    redisReply *have = redisCommand(k->c, "HGET tc:creg %s", field);
    enum carry_result res = CARRY_HAD;
    if (!have || (have->type != REDIS_REPLY_STRING && have->type != REDIS_REPLY_NIL)) {
        log_warn("cluster: cannot carry %s into Redis: %s", k->path,
                 have && have->str ? have->str : k->c->errstr);
        k->failed = 1;
        res = CARRY_FAILED;
    } else if (have->type == REDIS_REPLY_NIL) {
        freeReplyObject(have);
        have = NULL;
        if (founded(k, info->founder, 0) >= CHANREG_PER_ACCOUNT) {
            log_warn("cluster: %s of %s is not carried: its founder %s has %d channels on the "
                     "network (CHANREG_PER_ACCOUNT)",
                     info->name, k->path, info->founder, CHANREG_PER_ACCOUNT);
            return;
        }
        res = carry_field(k, "tc:creg", field, 0, memo, &have);
    }
    switch (res) {
    case CARRIED:
        k->carried++;
        founded(k, info->founder, 1);
        if (info->naccess < file->naccess)
            log_warn("cluster: %s of %s is carried without %d accounts of its access list that "
                     "are not this node's on the network",
                     info->name, k->path, file->naccess - info->naccess);
        break;
    case CARRY_HAD: {
        /* The same registration (its founder and time) carried at an earlier start, its
         * access list maybe changed on the network since; or another one. */
        struct unpack u;
        unpack_init(&u, have->str, have->len);
        if (unpack_creg(&u, info) < 0)
            snprintf(info->founder, sizeof info->founder, "?");
        if (ircname_cmp(info->founder, file->founder) == 0 && info->registered == file->registered)
            carry_remember(k, memo);
        else
            log_warn("cluster: %s of %s is registered on the network already (founder %s); the "
                     "network's registration stays",
                     file->name, k->path, info->founder);
        freeReplyObject(have);
        break;
    }
    case CARRY_ONCE: /* dropped on the network since */
        k->had++;
        break;
    case CARRY_FULL: /* no bound on the registrations but the founders' */
    case CARRY_FAILED:
        freeReplyObject(have);
        break;
    }
}

/* Says what carrying k's file did, unless the network had it all as it is. */
static void carry_said(const struct carry *k, const char *what)
{
    if (k->read > k->had)
        log_info("cluster: carried %d of the %d %s of %s into the network", k->carried, k->read,
                 what, k->path);
}

/* Carries the data directory's bans.db and channels.db into the first server (c), as this
 * section's head says. */
static void carry_files(struct cluster *cl, redisContext *c)
{
    const char *dir = cl->srv->cfg.data_dir;
    struct carry bans = {.cl = cl, .c = c};
    bans.p = malloc(2 * sizeof *bans.p);
    bans.info = malloc(sizeof *bans.info);
    if (!dir || !bans.p || !bans.info) {
        if (dir)
            log_warn("cluster: out of memory to carry the files of %s into the network", dir);
        free(bans.p);
        free(bans.info);
        return;
    }
    snprintf(bans.path, sizeof bans.path, "%s/bans.db", dir);
    ban_file_each(dir, carry_ban, &bans);
    carry_said(&bans, "server bans");
    struct carry regs = {.cl = cl, .c = c, .p = bans.p, .info = bans.info};
    snprintf(regs.path, sizeof regs.path, "%s/channels.db", dir);
    if (!bans.failed && access(regs.path, F_OK) == 0 && count_founded(&regs) == 0) {
        chanreg_file_each(dir, carry_creg, &regs);
        carry_said(&regs, "channel registrations");
    }
    struct founded *f, *tmp;
    HASH_ITER(hh, regs.founded, f, tmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(regs.founded, f);
        free(f);
    }
    free(bans.p);
    free(bans.info);
}

/* --- channels ------------------------------------------------------------------------------ */

/* A channel's settings as packed in an event and in tc:ch:<key>. */
static void pack_meta(struct pack *p, const struct chan_meta *m)
{
    pack_str(p, m->name);
    pack_u64(p, (uint64_t)m->created);
    pack_u64(p, m->modes);
    pack_str(p, m->chkey);
    pack_u64(p, m->limit);
    pack_u64(p, (uint64_t)m->has_topic);
    pack_str(p, m->topic);
    pack_str(p, m->topic_by);
    pack_u64(p, (uint64_t)m->topic_at);
    pack_u64(p, (uint64_t)m->ninvites);
    for (int i = 0; i < m->ninvites; i++)
        pack_u64(p, m->invites[i]);
}

/* The other half of pack_meta, from a field of its own. 0, or -1 when malformed. */
static int unpack_meta(const char *data, size_t len, struct chan_meta *m)
{
    struct unpack u;
    unpack_init(&u, data, len);
    memset(m, 0, sizeof *m);
    unpack_str(&u, m->name, sizeof m->name);
    m->created = (long long)unpack_u64(&u);
    m->modes = (unsigned)unpack_u64(&u);
    unpack_str(&u, m->chkey, sizeof m->chkey);
    m->limit = (unsigned)unpack_u64(&u);
    m->has_topic = unpack_u64(&u) != 0;
    unpack_str(&u, m->topic, sizeof m->topic);
    unpack_str(&u, m->topic_by, sizeof m->topic_by);
    m->topic_at = (long long)unpack_u64(&u);
    uint64_t n = unpack_u64(&u);
    if (u.bad || n > INVITES_MAX || !ircname_channel_valid(m->name) || m->limit > 1000000)
        return -1;
    m->ninvites = (int)n;
    for (int i = 0; i < m->ninvites; i++)
        m->invites[i] = unpack_u64(&u);
    return u.bad ? -1 : 0;
}

/* A member's entry in tc:chm:<key>: "<flags> <nick> <user@host>", flags 1 op + 2 voice. */
static void member_value(const struct member *m, char *out, size_t cap)
{
    snprintf(out, cap, "%d %s %s", m->op | m->voice << 1, m->nick, m->userhost);
}

static void member_field(uint64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%llu:%llu", (unsigned long long)(id >> CLUSTER_NODE_SHIFT),
             (unsigned long long)id);
}

/* One change for S_CHAN: op, channel, field, value. */
static void op4(struct pack *ops, const char *op, const char *key, const char *field,
                const char *value)
{
    pack_str(ops, op);
    pack_str(ops, key);
    pack_str(ops, field);
    pack_str(ops, value);
}

/* ch's settings for S_CHAN, whole, of which the parts (CHAN_META_*) replace those stored. */
static void op_meta(struct pack *ops, const struct chan *ch, unsigned parts)
{
    struct chan_meta m;
    struct pack blob;
    chan_meta_get(ch, &m);
    pack_init(&blob);
    pack_meta(&blob, &m);
    pack_str(ops, "M");
    pack_str(ops, chan_key(ch));
    pack_u64(ops, parts & CHAN_META_ALL);
    pack_bytes(ops, blob.buf, blob.len);
    if (blob.overflow)
        ops->overflow = 1;
}

/* The changes that take who out of ch (locked): its entry, and the channel if it emptied. */
static void op_leave(struct pack *ops, const struct chan *ch, uint64_t who)
{
    char field[48];
    member_field(who, field, sizeof field);
    op4(ops, "R", chan_key(ch), field, "");
    if (ch->nmembers == 0)
        op4(ops, "D", chan_key(ch), "", "");
}

/* The line of an event, without CR LF. */
static void pack_line(struct pack *p, const struct event *ev)
{
    if (!ev) {
        pack_str(p, "");
        return;
    }
    size_t len = ev->line->len >= 2 ? ev->line->len - 2 : 0;
    pack_bytes(p, ev->line->data, len);
}

/* The text of a line event ":source VERB target :text" (len: its bytes without CR LF), and
 * where its head (":source VERB target") ends. */
static const char *line_text(const struct event *l, size_t *len, size_t *head)
{
    const char *p = l->line->data, *end = p + (l->line->len >= 2 ? l->line->len - 2 : 0);
    for (int k = 0; k < 3 && p; k++) {
        p = memchr(p, ' ', (size_t)(end - p));
        if (p && k < 2)
            p++;
    }
    if (!p) { /* not ours to send: an empty text */
        *head = (size_t)(end - l->line->data);
        *len = 0;
        return end;
    }
    *head = (size_t)(p - l->line->data);
    p += p + 1 < end && p[1] == ':' ? 2 : 1;
    *len = p < end ? (size_t)(end - p) : 0;
    return p < end ? p : end;
}

/* A message's line: for a draft/multiline one, its head (":source VERB target"), its lines
 * following (pack_message_ml). */
static void pack_message_line(struct pack *p, const struct event *m)
{
    if (!m->ml || m->ml->n == 0) {
        pack_line(p, m);
        return;
    }
    size_t len, head;
    line_text(m->ml->lines[0].ev, &len, &head);
    pack_bytes(p, m->ml->lines[0].ev->line->data, head);
}

/* A draft/multiline message's lines: their count, then each one's msgid, flags (concat,
 * blank) and text; a plain message: a count of 0. */
static void pack_message_ml(struct pack *p, const struct event *m)
{
    int n = m->ml ? m->ml->n : 0;
    pack_u64(p, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        const struct event_ml_line *l = &m->ml->lines[i];
        size_t len, head;
        const char *text = line_text(l->ev, &len, &head);
        pack_str(p, l->ev->msgid);
        pack_u64(p, (uint64_t)(l->concat | l->blank << 1));
        pack_bytes(p, text, len);
    }
}

/* The other half for a multiline message: its lines after the count n, with the head line
 * and the fields unpack_message read. NULL when malformed. */
static struct event *unpack_multiline(struct unpack *u, uint64_t n, const char *line,
                                      const char *tags, const char *account, int bot,
                                      const char *msgid, const char *time, long long time_ms)
{
    /* The head: ":source VERB target", three words. */
    char head[IRC_LINE_MAX + 1], *save = NULL;
    snprintf(head, sizeof head, "%s", line[0] == ':' ? line + 1 : "");
    const char *source = strtok_r(head, " ", &save), *verb = strtok_r(NULL, " ", &save),
               *target = strtok_r(NULL, " ", &save);
    if (n > MULTILINE_MAX_LINES || !source || !verb || !target || strtok_r(NULL, " ", &save) ||
        (strcmp(verb, "PRIVMSG") != 0 && strcmp(verb, "NOTICE") != 0))
        return NULL;
    struct lines {
        char text[MULTILINE_MAX_LINES][IRC_LINE_MAX + 1];
        char msgid[MULTILINE_MAX_LINES][EVENT_MSGID_MAX];
        const char *tp[MULTILINE_MAX_LINES], *mp[MULTILINE_MAX_LINES];
        int concat[MULTILINE_MAX_LINES];
    } *ls = malloc(sizeof *ls);
    if (!ls)
        return NULL;
    for (uint64_t i = 0; i < n; i++) {
        unpack_str(u, ls->msgid[i], sizeof ls->msgid[i]);
        uint64_t flags = unpack_u64(u);
        unpack_str(u, ls->text[i], sizeof ls->text[i]);
        ls->concat[i] = (flags & 1) != 0;
        ls->tp[i] = ls->text[i];
        ls->mp[i] = ls->msgid[i];
        if (strpbrk(ls->text[i], "\r\n"))
            u->bad = 1;
    }
    struct event *ev = u->bad
                           ? NULL
                           : event_from_multiline(tags, account, bot, msgid, time, time_ms, source,
                                                  verb, target, (int)n, ls->tp, ls->concat, ls->mp);
    free(ls);
    return ev;
}

/* Queues one S_CHAN on shard: ev (the event, may be empty) and ops (the changes). */
static int chan_request(struct cluster *cl, int shard, const struct pack *ev,
                        const struct pack *ops, const struct chan_change *chg)
{
    struct req *q = req_new(R_CHAN, chg->who, ev, ops);
    if (!q) {
        log_warn("cluster: a change of %s is too large for the network", chan_name(chg->chans[0]));
        return -1;
    }
    q->shard = shard;
    q->msg = chg->kind == CC_MSG;
    /* a departure: kept, should the network not take it, to be sent when it returns */
    q->quit = chg->kind == CC_QUIT || chg->kind == CC_PART || chg->kind == CC_KICK;
    q->keep = chg->kind == CC_META;
    q->worker = chg->who_worker;
    snprintf(q->chan, sizeof q->chan, "%s", chan_name(chg->chans[0]));
    return enqueue(cl, q);
}

/* The head every channel event starts with. */
static void pack_head(struct pack *p, struct cluster *cl, char kind, uint64_t who)
{
    pack_init(p);
    pack_str(p, "C");
    char k[2] = {kind, '\0'};
    pack_str(p, k);
    pack_u64(p, cl->node);
    pack_u64(p, who);
}

/* QUIT, NICK and the peers' notices span the user's channels. A QUIT or NICK changes each
 * channel on its own server: one event per server, with that server's keys and the others'
 * (the line goes out with the last of them, chan_net_quit). A notice changes nothing: one
 * event, on the first channel's server, with every key. */
static int chan_span(struct cluster *cl, const struct chan_change *chg)
{
    int rc = 0, peers = chg->kind == CC_PEERS;
    for (int sh = 0; sh < cl->nshards; sh++) {
        int n = 0;
        for (int i = 0; i < chg->nchans; i++)
            n += peers || shard_of(cl, chan_key(chg->chans[i])) == sh;
        if (n == 0 || (peers && sh != shard_of(cl, chan_key(chg->chans[0]))))
            continue;
        struct pack *ev = malloc(sizeof *ev), *ops = malloc(sizeof *ops);
        if (!ev || !ops) {
            free(ev);
            free(ops);
            return -1;
        }
        pack_head(ev, cl, (char)chg->kind, chg->who);
        pack_init(ops);
        if (chg->kind == CC_NICK)
            pack_str(ev, chg->nick);
        if (peers)
            pack_u64(ev, chg->ev ? chg->ev->need_cap : 0);
        pack_line(ev, chg->ev);
        char field[48];
        member_field(chg->who, field, sizeof field);
        for (int other = 0; other < 2; other++) { /* this server's keys, then the others' */
            pack_u64(ev, (uint64_t)(other ? chg->nchans - n : n));
            for (int i = 0; i < chg->nchans; i++) {
                const struct chan *ch = chg->chans[i];
                if ((peers || shard_of(cl, chan_key(ch)) == sh) == other)
                    continue;
                pack_str(ev, chan_key(ch));
                if (other)
                    continue;
                if (chg->kind == CC_QUIT)
                    op_leave(ops, ch, chg->who);
                else if (chg->kind == CC_NICK)
                    op4(ops, "N", chan_key(ch), field, chg->nick);
            }
        }
        if (chan_request(cl, sh, ev, ops, chg) < 0)
            rc = -1;
        free(ev);
        free(ops);
    }
    return rc;
}

/* srv->remote.chan: a change of this node's to one or more channels, for the network (the
 * channels are locked by the caller, which keeps the order). */
static int remote_chan(void *arg, const struct chan_change *chg)
{
    struct cluster *cl = arg;
    if (chg->nchans <= 0)
        return 0;
    if (chg->kind == CC_QUIT || chg->kind == CC_NICK || chg->kind == CC_PEERS)
        return chan_span(cl, chg);
    /* A message while Redis is away: this node's members still get it (from here alone). */
    if (chg->kind == CC_MSG && atomic_load(&cl->degraded))
        return -1;
    const struct chan *ch = chg->chans[0];
    struct pack *ev = malloc(sizeof *ev), *ops = malloc(sizeof *ops);
    if (!ev || !ops) {
        free(ev);
        free(ops);
        return -1;
    }
    pack_head(ev, cl, (char)chg->kind, chg->who);
    pack_init(ops);
    pack_str(ev, chan_key(ch));
    char field[48], value[IRC_NICK_MAX + USER_MAX + HOST_MAX + 8];
    member_field(chg->who, field, sizeof field);
    switch (chg->kind) {
    case CC_JOIN: {
        struct chan_meta m;
        chan_meta_get(ch, &m);
        pack_str(ev, chan_name(ch));
        pack_u64(ev, (uint64_t)(chg->m->op | chg->m->voice << 1));
        pack_str(ev, chg->m->nick);
        pack_str(ev, chg->m->userhost);
        pack_str(ev, chg->account);
        pack_str(ev, chg->away);
        pack_line(ev, chg->ev);
        const struct msg *ext = chg->ev ? chg->ev->line_ext : NULL;
        pack_bytes(ev, ext ? ext->data : "", ext && ext->len >= 2 ? ext->len - 2 : 0);
        if (chg->meta) {
            struct pack blob;
            pack_init(&blob);
            pack_meta(&blob, &m);
            pack_bytes(ev, blob.buf, blob.len);
            op_meta(ops, ch, chg->meta);
        } else {
            pack_str(ev, "");
        }
        member_value(chg->m, value, sizeof value);
        op4(ops, "A", chan_key(ch), field, value);
        /* an invitation is used once: whichever node's it was, the network's goes too */
        char idf[24];
        snprintf(idf, sizeof idf, "%llu", (unsigned long long)chg->who);
        op4(ops, "v", chan_key(ch), idf, "");
        pack_u64(ev, ch->net_seq);
        pack_u64(ev, chg->meta & CHAN_META_ALL);
        break;
    }
    case CC_PART:
    case CC_KICK:
        pack_line(ev, chg->ev);
        op_leave(ops, ch, chg->who);
        break;
    case CC_META: {
        pack_line(ev, chg->ev);
        pack_u64(ev, chg->ev ? chg->ev->need_cap : 0);
        if (chg->meta) {
            struct chan_meta m;
            struct pack blob;
            chan_meta_get(ch, &m);
            pack_init(&blob);
            pack_meta(&blob, &m);
            pack_bytes(ev, blob.buf, blob.len);
            op_meta(ops, ch, chg->meta);
        } else {
            pack_str(ev, "");
        }
        /* An invitee on another node: its worker there, plus one (0: none). */
        pack_u64(ev, chg->who && chg->who_worker >= WORKER_REMOTE
                         ? (uint64_t)(chg->who_worker - WORKER_REMOTE + 1)
                         : 0);
        pack_u64(ev, (uint64_t)chg->nedits);
        for (int i = 0; i < chg->nedits; i++) {
            const struct chan_edit *e = &chg->edits[i];
            char se[3] = {e->sign, e->letter, '\0'};
            pack_str(ev, se);
            pack_u64(ev, e->id);
            pack_str(ev, e->mask);
            pack_str(ev, e->set_by);
            pack_u64(ev, (uint64_t)e->set_at);
            char lf[MASK_MAX + 4];
            if (e->letter == 'i') {
                char idf[24];
                snprintf(idf, sizeof idf, "%llu", (unsigned long long)e->id);
                op4(ops, e->sign == '+' ? "V" : "v", chan_key(ch), idf, "");
            } else if (e->letter == 'o' || e->letter == 'v') {
                const struct member *t = chan_member((struct chan *)ch, e->id);
                char mf[48], fl[4];
                member_field(e->id, mf, sizeof mf);
                snprintf(fl, sizeof fl, "%d", t ? t->op | t->voice << 1 : 0);
                if (t)
                    op4(ops, "F", chan_key(ch), mf, fl);
            } else if (e->mask) {
                snprintf(lf, sizeof lf, "%c%s", e->letter, e->mask);
                char lv[SOURCE_MAX + 32];
                snprintf(lv, sizeof lv, "%lld %s", e->set_at, e->set_by ? e->set_by : "");
                op4(ops, e->sign == '+' ? "L" : "l", chan_key(ch), lf, lv);
            }
        }
        pack_u64(ev, ch->net_seq);
        pack_u64(ev, chg->meta & CHAN_META_ALL);
        break;
    }
    case CC_MSG: {
        const struct event *m = chg->ev;
        char st[2] = {chg->status, '\0'};
        pack_u64(ev, (uint64_t)chg->who_worker);
        pack_u64(ev, (uint64_t)chg->echo);
        pack_str(ev, st);
        pack_u64(ev, m->need_cap);
        pack_u64(ev, (uint64_t)m->tags_only);
        pack_u64(ev, (uint64_t)m->bot);
        pack_str(ev, m->msgid);
        pack_str(ev, m->time);
        pack_u64(ev, (uint64_t)m->time_ms);
        pack_str(ev, m->account);
        pack_str(ev, m->client_tags);
        pack_message_line(ev, m);
        pack_message_ml(ev, m);
        /* Kept in the channel's stream before anyone receives it (not STATUSMSG or TAGMSG,
         * which a single node does not keep either). */
        if (cl->srv->hist && !chg->status && !m->tags_only) {
            char cap[24], oldest[32];
            snprintf(cap, sizeof cap, "%ld", cl->history_max);
            oldest_kept(cl, oldest, sizeof oldest);
            op4(ops, "H", chan_key(ch), cap, oldest);
        }
        break;
    }
    default:
        break;
    }
    int rc = chan_request(cl, shard_of(cl, chan_key(ch)), ev, ops, chg);
    free(ev);
    free(ops);
    return rc;
}

/* S_CHAN's answer for a message: a sender whose message the network did not take is told. */
struct chan_sent {
    int worker;
    uint64_t id;
    char name[IRC_CHANNEL_MAX + 1];
};

static void chan_sent(struct cluster *cl, redisReply *rp, void *arg)
{
    struct chan_sent *cs = arg;
    if (!rp || rp->type == REDIS_REPLY_ERROR) {
        struct event *ev = event_new(NULL,
                                     ":%s FAIL PRIVMSG TEMPORARILY_UNAVAILABLE %s :The network "
                                     "cannot take messages for %s now; message not sent, try again",
                                     cl->srv->cfg.server_name, cs->name, cs->name);
        if (ev)
            fanout_to_client(cl->srv, cs->worker, cs->id, ev);
        event_unref(ev);
    }
    free(cs);
}

/* S_CHAN's answer for a QUIT: one the network did not take (Redis away, or gone before it
 * answered) is kept, to be published when it returns (send_quits). An error is not kept: it
 * would fail again. */
static void quit_sent(struct cluster *cl, redisReply *rp, void *arg)
{
    static struct log_budget full_logged = LOG_BUDGET_INIT;
    struct quit *e = arg;
    if (!rp && quits_add(&cl->quits, e->id, e->shard, e->event, e->len) < 0)
        log_limited(&full_logged, 5, LOG_WARN,
                    "cluster: the QUIT, PART or KICK of client %llu could not be kept for the "
                    "network (at most %d are): the others will see it leave with a generic reason",
                    (unsigned long long)e->id, CLUSTER_QUITS_MAX);
    free(e);
}

/* R_CHAN: EVALSHA S_CHAN with the event and the changes, on the channels' server. */
static void run_chan(struct cluster *cl, struct req *q)
{
    struct unpack u;
    unpack_init(&u, q->data + q->len, q->facts_len);
    int nops = 0;
    for (struct unpack c = u; c.p < c.end; nops++)
        if (!unpack_bytes(&c, &(size_t){0}))
            break;
    int argc = 5 + nops;
    const char **argv = malloc((size_t)argc * sizeof *argv);
    size_t *lens = malloc((size_t)argc * sizeof *lens);
    char node[24];
    snprintf(node, sizeof node, "%llu", (unsigned long long)cl->node);
    struct chan_sent *cs = q->msg ? malloc(sizeof *cs) : NULL;
    struct quit *qe = q->quit ? malloc(sizeof *qe + q->len) : NULL;
    if (qe) {
        *qe = (struct quit){.id = q->id, .shard = q->shard, .len = q->len};
        memcpy(qe->event, q->data, q->len);
    }
    int sent = -1;
    if (argv && lens && (!q->msg || cs)) {
        argv[0] = "EVALSHA";
        argv[1] = cl->sha[S_CHAN];
        argv[2] = "0";
        argv[3] = q->data;
        lens[3] = q->len;
        argv[4] = node;
        for (int i = 0; i < 5; i++)
            if (i != 3)
                lens[i] = strlen(argv[i]);
        for (int i = 0; i < nops; i++)
            argv[5 + i] = unpack_bytes(&u, &lens[5 + i]);
        if (cs) {
            cs->worker = q->worker;
            cs->id = q->id;
            snprintf(cs->name, sizeof cs->name, "%s", q->chan);
        }
        if (qe)
            sent = command(&cl->shards[q->shard].cmd, quit_sent, qe, argc, argv, lens);
        else
            sent =
                command(&cl->shards[q->shard].cmd, q->msg ? chan_sent : NULL, cs, argc, argv, lens);
    }
    if (sent < 0) {
        if (q->msg && cs)
            chan_sent(cl, NULL, cs);
        else
            free(cs);
        if (qe)
            quit_sent(cl, NULL, qe);
        if (q->keep && keep_request(cl, q) == 0)
            log_debug("cluster: a change of %s waits for the network", q->chan);
        else if (!q->msg)
            log_debug("cluster: a change of %s did not reach the network", q->chan);
    }
    free(argv);
    free(lens);
}

/* Up to CHANNELS_PER_USER keys of an event ("n", then n keys); the count, -1 if malformed. */
static int unpack_keys(struct unpack *u, char (*keys)[IRC_CHANNEL_MAX + 1])
{
    uint64_t n = unpack_u64(u);
    if (u->bad || n > CHANNELS_PER_USER)
        return -1;
    for (uint64_t i = 0; i < n; i++)
        unpack_str(u, keys[i], IRC_CHANNEL_MAX + 1);
    return u->bad ? -1 : (int)n;
}

/* The message of an "M" event (as remote_chan packs it, from its capability on), or NULL
 * when malformed or without memory. */
static struct event *unpack_message(struct unpack *u)
{
    char msgid[EVENT_MSGID_MAX], time[EVENT_TIME_MAX], account[32], tags[4096];
    char line[IRC_LINE_MAX + 1];
    uint64_t need = unpack_u64(u), tags_only = unpack_u64(u), bot = unpack_u64(u);
    unpack_str(u, msgid, sizeof msgid);
    unpack_str(u, time, sizeof time);
    uint64_t time_ms = unpack_u64(u);
    unpack_str(u, account, sizeof account);
    unpack_str(u, tags, sizeof tags);
    unpack_str(u, line, sizeof line);
    /* The count of a multiline message's lines (not there in what an older version stored). */
    uint64_t nlines = u->p < u->end ? unpack_u64(u) : 0;
    if (u->bad || !line[0] || strpbrk(line, "\r\n"))
        return NULL;
    struct event *ev = nlines ? unpack_multiline(u, nlines, line, tags, account, bot != 0, msgid,
                                                 time, (long long)time_ms)
                              : event_from(tags, msgid, time, (long long)time_ms, line);
    if (!ev)
        return NULL;
    ev->need_cap = (unsigned)need;
    ev->tags_only = tags_only != 0;
    ev->bot = bot != 0;
    snprintf(ev->account, sizeof ev->account, "%s", account);
    return ev;
}

/* The parts of the settings a J or T event's change made (CHAN_META_*), its last field: an
 * event of a node older than that field carries the settings to take whole. */
static unsigned meta_parts(struct unpack *u)
{
    return u->p < u->end ? (unsigned)unpack_u64(u) & CHAN_META_ALL : CHAN_META_ALL;
}

/* A channel event from the network ("C", kind, origin, who, ...). This node's own changes
 * are already made here, but for messages, which every node delivers as the network orders
 * them. */
/* history_store, waiting while the store is behind (a moment at a time, CLUSTER_STORE_WAIT_MS
 * in all): catching up may hand it more messages at once than its queue takes. */
static int store_patiently(struct server *srv, struct event *ev, const char *key)
{
    const struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
    for (int waited = 0;; waited += 10) {
        int rc = history_store(srv, ev, key);
        if (rc >= 0 || waited >= CLUSTER_STORE_WAIT_MS)
            return rc;
        nanosleep(&pause, NULL);
    }
}

/* A channel event from the network: applied to the channel's replica and sent to its members
 * here. only_store: a message of the channel's stream older than catching up delivers
 * (catch_up), put in this node's store and nothing else. */
static void apply_chan(struct cluster *cl, struct unpack *u, int only_store)
{
    struct server *srv = cl->srv;
    char kind[2];
    unpack_str(u, kind, sizeof kind);
    uint64_t origin = unpack_u64(u), who = unpack_u64(u);
    if (only_store && kind[0] != 'M')
        return;
    /* Settings are set again from this node's own events as they come back (TOPIC, MODE,
     * INVITE, a new channel): every node then applies every change in the server's order,
     * so two nodes changing the same setting at once end with the same value. */
    int own = origin == cl->node;
    if (u->bad || (own && kind[0] != 'M' && kind[0] != 'T' && kind[0] != 'J'))
        return;
    char key[IRC_CHANNEL_MAX + 1], line[IRC_LINE_MAX + 1];
    char keys[CHANNELS_PER_USER][IRC_CHANNEL_MAX + 1];
    char others[CHANNELS_PER_USER][IRC_CHANNEL_MAX + 1];
    switch (kind[0]) {
    case 'J': {
        struct chan_remote_member mi = {.id = who};
        char name[IRC_CHANNEL_MAX + 1], account[64], away[AWAY_MAX + 1], ext[IRC_LINE_MAX + 1];
        unpack_str(u, key, sizeof key);
        unpack_str(u, name, sizeof name);
        uint64_t flags = unpack_u64(u);
        unpack_str(u, mi.nick, sizeof mi.nick);
        unpack_str(u, mi.userhost, sizeof mi.userhost);
        unpack_str(u, account, sizeof account);
        unpack_str(u, away, sizeof away);
        unpack_str(u, line, sizeof line);
        unpack_str(u, ext, sizeof ext);
        size_t mlen;
        const char *mdata = unpack_bytes(u, &mlen);
        struct chan_meta meta;
        int has_meta = mdata && mlen > 0 && unpack_meta(mdata, mlen, &meta) == 0;
        if (u->bad || !ircname_nick_valid(mi.nick) || who >> CLUSTER_NODE_SHIFT != origin)
            return;
        mi.op = (flags & 1) != 0;
        mi.voice = (flags & 2) != 0;
        uint64_t seq = unpack_u64(u);
        unsigned parts = meta_parts(u);
        if (own) {
            if (has_meta && !u->bad)
                chan_net_settings(srv, key, (unsigned)seq, &meta, parts, NULL, 0);
            chan_net_joined(srv, key, who);
            break;
        }
        if (!has_meta) { /* the name at least, should the channel be new here */
            memset(&meta, 0, sizeof meta);
            snprintf(meta.name, sizeof meta.name, "%s", name);
        }
        chan_net_join(srv, key, has_meta ? &meta : NULL, has_meta ? parts : 0, &mi, line, ext,
                      account, away);
        break;
    }
    case 'P':
    case 'K':
        unpack_str(u, key, sizeof key);
        unpack_str(u, line, sizeof line);
        if (!u->bad)
            chan_net_part(srv, key, who, line, kind[0] == 'K');
        break;
    case 'Q':
    case 'N':
    case 'A': {
        char nick[IRC_NICK_MAX + 1] = "";
        uint64_t need = 0;
        if (kind[0] == 'N')
            unpack_str(u, nick, sizeof nick);
        if (kind[0] == 'A')
            need = unpack_u64(u);
        unpack_str(u, line, sizeof line);
        int n = unpack_keys(u, keys), m = unpack_keys(u, others);
        if (n < 0 || m < 0)
            return;
        if (kind[0] == 'Q')
            chan_net_quit(srv, who, line, keys, n, others, m);
        else if (kind[0] == 'N')
            chan_net_nick(srv, who, nick, line, keys, n, others, m);
        else
            chan_net_peers(srv, who, (unsigned)need, line, keys, n);
        break;
    }
    case 'T': {
        unpack_str(u, key, sizeof key);
        unpack_str(u, line, sizeof line);
        uint64_t need = unpack_u64(u);
        size_t mlen;
        const char *mdata = unpack_bytes(u, &mlen);
        struct chan_meta meta;
        int has_meta = mdata && mlen > 0 && unpack_meta(mdata, mlen, &meta) == 0;
        uint64_t invitee_w = unpack_u64(u), nedits = unpack_u64(u);
        if (u->bad || nedits > MODES_PER_LINE * 2)
            return;
        struct chan_edit edits[MODES_PER_LINE * 2];
        char masks[MODES_PER_LINE * 2][MASK_MAX + 1], by[MODES_PER_LINE * 2][SOURCE_MAX + 1];
        for (uint64_t i = 0; i < nedits; i++) {
            char se[3];
            unpack_str(u, se, sizeof se);
            edits[i].sign = se[0];
            edits[i].letter = se[1];
            edits[i].id = unpack_u64(u);
            unpack_str(u, masks[i], sizeof masks[i]);
            unpack_str(u, by[i], sizeof by[i]);
            edits[i].mask = masks[i];
            edits[i].set_by = by[i];
            edits[i].set_at = (long long)unpack_u64(u);
        }
        uint64_t seq = unpack_u64(u);
        unsigned parts = meta_parts(u);
        if (u->bad)
            return;
        if (own) {
            chan_net_settings(srv, key, (unsigned)seq, has_meta ? &meta : NULL, parts, edits,
                              (int)nedits);
            break;
        }
        int local = who && who >> CLUSTER_NODE_SHIFT == cl->node && invitee_w > 0 &&
                    invitee_w <= (uint64_t)srv->nworkers;
        chan_net_meta(srv, key, has_meta ? &meta : NULL, parts, edits, (int)nedits, line,
                      (unsigned)need, local ? who : 0, local ? (int)invitee_w - 1 : -1, line);
        break;
    }
    case 'M': {
        unpack_str(u, key, sizeof key);
        uint64_t worker = unpack_u64(u), echo = unpack_u64(u);
        char st[2];
        unpack_str(u, st, sizeof st);
        struct event *ev = unpack_message(u);
        if (!ev)
            return;
        /* its place in the channel's stream, when it was kept there (S_CHAN) */
        char sid[48] = "";
        if (u->p < u->end)
            unpack_str(u, sid, sizeof sid);
        struct chan_pos pos;
        int kept = !u->bad && stream_pos(sid, &pos) == 0;
        int mine = origin == cl->node && worker < (uint64_t)srv->nworkers;
        char status = '\0';
        if (st[0] == '@' || st[0] == '+')
            status = st[0];
        if (only_store) {
            if (!status && !ev->tags_only && store_patiently(srv, ev, key) < 0)
                u->bad = 1; /* the caller stops there */
            event_unref(ev);
            break;
        }
        chan_net_message(srv, key, ev, who, mine ? (int)worker : -1, echo != 0, status,
                         kept ? &pos : NULL);
        event_unref(ev);
        break;
    }
    case 'X': {
        int n = unpack_keys(u, keys);
        char reason[96] = "*.net *.split"; /* the node's name if it is known */
        for (int i = 0; i < 8; i++)
            if (cl->gone[i].node == origin && origin)
                snprintf(reason, sizeof reason, "Node %s is gone", cl->gone[i].name);
        if (n > 0)
            chan_net_drop_node(srv, origin, keys, n, reason);
        break;
    }
    default:
        break;
    }
}

static redisContext *connect_now(const struct cluster *cl, const struct redis_server *rs);

/* The id of a channel's stream entry e (an XRANGE element), or NULL when e is malformed. */
static const char *entry_id(const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY ||
        e->element[1]->elements != 2 || e->element[1]->element[1]->type != REDIS_REPLY_STRING)
        return NULL;
    return e->element[0]->str;
}

/* A channel's stream entry e as it was published (its event, then its id: apply_chan).
 * 1 when it was applied, 0 when skipped, -1 when only_store and the store would not take it. */
static int entry_apply(struct cluster *cl, const redisReply *e, int only_store)
{
    const char *id = entry_id(e);
    if (!id)
        return 0;
    size_t len;
    char *data = entry_with_id(e->element[1]->element[1], id, &len);
    if (!data)
        return 0;
    struct unpack u;
    unpack_init(&u, data, len);
    size_t klen;
    const char *kind = unpack_bytes(&u, &klen);
    int rc = 0;
    if (kind && klen == 1 && kind[0] == 'C') {
        apply_chan(cl, &u, only_store);
        rc = only_store && u.bad ? -1 : 1;
    }
    free(data);
    return rc;
}

/* A channel's entries from its stream (newest first, as XREVRANGE gives them), oldest first:
 * those after the last message this node delivered are delivered now, the others only
 * stored. */
static int caught_up(struct cluster *cl, const redisReply *entries)
{
    int n = 0;
    for (size_t i = entries->elements; i-- > 0;)
        n += entry_apply(cl, entries->element[i], 0) > 0;
    return n;
}

/* A channel's stream from id from up to (not including) id before, oldest first, a page at a
 * time, into this node's store only: the messages of an absence longer than catching up
 * delivers (nobody here is sent them; CHATHISTORY has them). The stream is capped at
 * --history-max, which bounds the pages. *behind is set when the store would not take them
 * (after waiting): the rest of the catch-up leaves older messages out rather than wait again
 * for each channel. */
static int store_older(struct cluster *cl, redisContext *rc, const char *key, const char *from,
                       const char *before, int *behind)
{
    char start[48];
    snprintf(start, sizeof start, "%s", from);
    int n = 0;
    long pages = cl->srv->cfg.history_max / CLUSTER_BACKFILL + 1;
    for (long page = 0; page < pages; page++) {
        redisReply *r = redisCommand(rc, "XRANGE tc:h:%s %s (%s COUNT %d", key, start, before,
                                     CLUSTER_BACKFILL);
        if (!r) {
            log_warn("cluster: catching up on %s: %s", key, rc->errstr);
            return n;
        }
        size_t got = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        for (size_t i = 0; i < got; i++) {
            int ok = entry_apply(cl, r->element[i], 1);
            if (ok < 0) {
                log_warn("cluster: catching up on %s: the history store is behind; older "
                         "messages left out",
                         key);
                *behind = 1;
                freeReplyObject(r);
                return n;
            }
            n += ok;
        }
        const char *last = got ? entry_id(r->element[got - 1]) : NULL;
        if (last)
            snprintf(start, sizeof start, "(%s", last);
        freeReplyObject(r);
        if (got < CLUSTER_BACKFILL || !last)
            break;
    }
    return n;
}

/* For each channel of a server's snapshot, the messages of its stream up to the snapshot's
 * newest (those after it are among the events held meanwhile, applied next), from those
 * newer than the newest of this node's store (less CLUSTER_CLOCK_SLACK_MS, for the clocks
 * of the nodes and Redis) or the last one this node delivered, whichever is older; the last
 * CLUSTER_BACKFILL of them as below, the older ones into the store only. At start they fill the
 * store (the history from before this node ran, or was down; no member is here yet). When the
 * subscriber connection is back, those published while it was away reach the members too, once each
 * (chan_net_message knows the last one delivered), in the channel's order and before anything after
 * them. What the store has already it keeps once, by msgid. On a blocking connection of its own: it
 * happens rarely. */
static void catch_up(struct cluster *cl, const struct shard *sh, const redisReply *chans)
{
    if (chans->elements == 0)
        return;
    redisContext *rc = connect_now(cl, &sh->rs);
    if (!rc)
        return;
    int n = 0, behind = 0;
    for (size_t i = 0; i < chans->elements; i++) {
        const redisReply *c = chans->element[i];
        if (c->type != REDIS_REPLY_ARRAY || c->elements != 5 ||
            c->element[0]->type != REDIS_REPLY_STRING ||
            strlen(c->element[0]->str) > IRC_CHANNEL_MAX ||
            c->element[4]->type != REDIS_REPLY_ARRAY || c->element[4]->elements != 1)
            continue; /* nothing in its stream */
        const redisReply *head = c->element[4]->element[0];
        if (head->type != REDIS_REPLY_ARRAY || head->elements != 2 ||
            head->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const char *key = c->element[0]->str, *newest = head->element[0]->str;
        long long stored = history_newest_ms(cl->srv, key);
        struct chan_pos had = chan_net_position(cl->srv, key);
        unsigned long long from_ms = 0;
        if (stored > CLUSTER_CLOCK_SLACK_MS)
            from_ms = (unsigned long long)(stored - CLUSTER_CLOCK_SLACK_MS);
        if (had.ms > 0 && (stored < 0 || had.ms < from_ms))
            from_ms = had.ms;
        char from[32];
        snprintf(from, sizeof from, "%llu-0", from_ms);
        redisReply *r = redisCommand(rc, "XREVRANGE tc:h:%s %s %s COUNT %d", key, newest, from,
                                     CLUSTER_BACKFILL);
        if (!r) {
            log_warn("cluster: catching up on %s: %s", key, rc->errstr);
            break;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == CLUSTER_BACKFILL) {
            /* more may be older: those go to the store first, to keep the channel's order */
            const char *oldest = entry_id(r->element[r->elements - 1]);
            if (oldest && !behind)
                n += store_older(cl, rc, key, from, oldest, &behind);
        }
        if (r->type == REDIS_REPLY_ARRAY)
            n += caught_up(cl, r);
        freeReplyObject(r);
    }
    redisFree(rc);
    if (n)
        log_info("cluster: caught up on %d messages of the network's channels", n);
}

/* The channels of a server's snapshot: {key, settings, members, lists, messages} each. */
/* The channel keys of a snapshot, sorted, for chan_net_reconcile_absent. */
struct listed {
    const struct cluster *cl;
    int shard;
    const char **keys;
    size_t n;
};

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int is_listed(void *arg, const char *key)
{
    const struct listed *l = arg;
    return shard_of(l->cl, key) != l->shard ||
           bsearch(&key, l->keys, l->n, sizeof *l->keys, key_cmp) != NULL;
}

/* Members of other nodes renamed while the subscriber was away (chan_renamed_fn), with the
 * channels they are in here, for one NICK line each to the members here who share one. */
#define RENAMES_MAX 256
struct renames {
    struct renamed {
        uint64_t id;
        char source[IRC_NICK_MAX + 1 + USER_MAX + 1 + HOST_MAX];
        char nick[IRC_NICK_MAX + 1];
        char keys[CHANNELS_PER_USER][IRC_CHANNEL_MAX + 1];
        int n;
    } * v;
    int n;
};

static void note_renamed(void *arg, const char *key, uint64_t id, const char *source,
                         const char *nick)
{
    struct renames *r = arg;
    int i = 0;
    while (i < r->n && r->v[i].id != id)
        i++;
    if (i == r->n) {
        if (r->n == RENAMES_MAX || (!r->v && !(r->v = calloc(RENAMES_MAX, sizeof *r->v))))
            return; /* beyond the bound, the replica keeps the old nick until the next NICK */
        r->n++;
        r->v[i].id = id;
        snprintf(r->v[i].source, sizeof r->v[i].source, "%s", source);
        snprintf(r->v[i].nick, sizeof r->v[i].nick, "%s", nick);
    }
    if (r->v[i].n < CHANNELS_PER_USER)
        snprintf(r->v[i].keys[r->v[i].n++], sizeof r->v[i].keys[0], "%s", key);
}

/* The NICK lines of the members renamed meanwhile: each replica takes the new nick, and
 * the members here sharing a channel with one see its NICK once. */
static void apply_renames(struct cluster *cl, struct renames *r)
{
    for (int i = 0; i < r->n; i++) {
        char line[IRC_LINE_MAX + 1];
        snprintf(line, sizeof line, ":%s NICK %s", r->v[i].source, r->v[i].nick);
        chan_net_nick(cl->srv, r->v[i].id, r->v[i].nick, line, r->v[i].keys, r->v[i].n, NULL, 0);
    }
    free(r->v);
}

/* The channels of a server's snapshot (shard sh): loaded at start; later (the subscriber
 * was away), the replicas are reconciled with them, members that left meanwhile parting
 * only when the server's data is the same as before (removals: it did not restart empty,
 * when every node announces its members again instead). */
static void load_chans(struct cluster *cl, const struct shard *sh, const redisReply *chans,
                       int reconcile, int removals)
{
    int n = 0;
    struct listed l = {.cl = cl, .shard = sh->index};
    struct renames renamed = {0};
    if (reconcile && removals && !(l.keys = calloc(chans->elements + 1, sizeof *l.keys)))
        removals = 0;
    for (size_t i = 0; i < chans->elements; i++) {
        const redisReply *c = chans->element[i];
        if (c->type != REDIS_REPLY_ARRAY || c->elements != 5 ||
            c->element[0]->type != REDIS_REPLY_STRING ||
            c->element[1]->type != REDIS_REPLY_STRING || c->element[2]->type != REDIS_REPLY_ARRAY ||
            c->element[3]->type != REDIS_REPLY_ARRAY)
            continue;
        const char *key = c->element[0]->str;
        struct chan_meta meta;
        if (strlen(key) > IRC_CHANNEL_MAX)
            continue;
        if (l.keys)
            l.keys[l.n++] = key; /* listed even if malformed: nothing parts for it */
        if (unpack_meta(c->element[1]->str, c->element[1]->len, &meta) < 0)
            continue;
        const redisReply *mr = c->element[2];
        struct chan_remote_member *ms = calloc(mr->elements / 2 + 1, sizeof *ms);
        if (!ms)
            continue;
        int k = 0;
        for (size_t j = 0; j + 1 < mr->elements; j += 2) {
            const redisReply *f = mr->element[j], *v = mr->element[j + 1];
            if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                continue;
            char *end;
            uint64_t node = strtoull(f->str, &end, 10);
            uint64_t id = *end == ':' ? strtoull(end + 1, &end, 10) : 0;
            /* "<flags> <nick> <user@host>" */
            const char *nick = v->str + 2, *sp = strchr(nick, ' ');
            if (*end || !id || node == cl->node || id >> CLUSTER_NODE_SHIFT != node || v->len < 5 ||
                v->str[0] < '0' || v->str[0] > '3' || v->str[1] != ' ' || !sp ||
                (size_t)(sp - nick) > IRC_NICK_MAX || strlen(sp + 1) > USER_MAX + HOST_MAX)
                continue; /* this node's own are from an earlier run, gone */
            int fl = v->str[0] - '0';
            ms[k] = (struct chan_remote_member){.id = id, .op = fl & 1, .voice = (fl >> 1) & 1};
            snprintf(ms[k].nick, sizeof ms[k].nick, "%.*s", (int)(sp - nick), nick);
            snprintf(ms[k].userhost, sizeof ms[k].userhost, "%s", sp + 1);
            if (!ircname_nick_valid(ms[k].nick))
                continue;
            k++;
        }
        if (reconcile)
            chan_net_reconcile(cl->srv, key, &meta, ms, k, cl->node, removals, note_renamed,
                               &renamed);
        if (k > 0) {
            if (!reconcile)
                chan_net_load(cl->srv, key, &meta, ms, k);
            const redisReply *lr = c->element[3];
            struct chan_edit *es = calloc(lr->elements / 2 + 1, sizeof *es);
            int ne = 0;
            for (size_t j = 0; es && j + 1 < lr->elements; j += 2) {
                const redisReply *f = lr->element[j], *v = lr->element[j + 1];
                if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || f->len < 2)
                    continue;
                /* "<set at> <set by>" */
                char *end;
                long long at = strtoll(v->str, &end, 10);
                if (*end != ' ' || f->len > MASK_MAX + 1)
                    continue;
                es[ne++] = (struct chan_edit){.sign = '+',
                                              .letter = f->str[0],
                                              .mask = f->str + 1,
                                              .set_by = end + 1,
                                              .set_at = at};
            }
            if (es)
                chan_net_load_lists(cl->srv, key, es, ne, reconcile && removals);
            free(es);
            n++;
        }
        free(ms);
    }
    apply_renames(cl, &renamed);
    if (l.keys) {
        qsort(l.keys, l.n, sizeof *l.keys, key_cmp);
        int gone = chan_net_reconcile_absent(cl->srv, is_listed, &l, cl->node);
        if (gone)
            log_info("cluster: %d members of other nodes left channels while this node was "
                     "cut off",
                     gone);
        free(l.keys);
    }
    if (n)
        log_info("cluster: %s %d channels of the network", reconcile ? "reconciled" : "loaded", n);
}

/* --- the thread ---------------------------------------------------------------------------- */

/* A node gone: its nicks freed, its members out of the channels, on every Redis. */
static void reap_nicks(struct cluster *cl, const char *node)
{
    char set[48];
    snprintf(set, sizeof set, "tc:nicks:%s", node);
    const char *args[] = {set, node};
    for (int i = 0; i < cl->nshards; i++) {
        script(cl, i, S_REAPNICKS, NULL, NULL, 1, 2, args, NULL);
        script(cl, i, S_REAPCHANS, NULL, NULL, 0, 1, args + 1, NULL);
    }
}

/* The heartbeat's answer: the nodes it found gone, whose nicks are freed everywhere. */
static void beaten(struct cluster *cl, redisReply *rp, void *arg)
{
    (void)arg;
    if (!rp || rp->type != REDIS_REPLY_ARRAY || rp->elements != 2 ||
        rp->element[0]->type != REDIS_REPLY_ARRAY)
        return;
    const redisReply *gone = rp->element[0];
    for (size_t i = 0; i < gone->elements; i++) {
        if (gone->element[i]->type != REDIS_REPLY_STRING)
            continue;
        log_info("cluster: node %s stopped beating; freeing its nicks", gone->element[i]->str);
        reap_nicks(cl, gone->element[i]->str);
    }
    learn_nodes(cl, rp->element[1]);
}

static void beat(struct cluster *cl)
{
    char node[24], ttl[16];
    snprintf(node, sizeof node, "%llu", (unsigned long long)cl->node);
    snprintf(ttl, sizeof ttl, "%d", 3 * cl->heartbeat_s);
    /* Back from a Redis outage, every node's alive key may have lapsed meanwhile: the others
     * get the time to beat again before any is taken for gone. */
    const char *reap = cl->now_ms >= cl->reap_after_ms ? "1" : "0";
    const char *args[] = {"tc:nodes", node, cl->name, ttl, cl->instance, reap};
    script(cl, 0, S_BEAT, beaten, NULL, 1, 6, args, NULL);
}

static void left(struct cluster *cl, redisReply *rp, void *arg)
{
    (void)rp;
    (void)arg;
    cl->leaving--;
}

/* The goodbye: this node out of the node table, its nicks freed on every Redis. */
static void leave(struct cluster *cl)
{
    char node[24], set[48];
    snprintf(node, sizeof node, "%llu", (unsigned long long)cl->node);
    snprintf(set, sizeof set, "tc:nicks:%s", node);
    const char *args[] = {"tc:nodes", node, cl->name};
    cl->left = 1;
    cl->leave_by_ms = cl->now_ms + CLOSE_WAIT_MS;
    if (script(cl, 0, S_LEAVE, left, NULL, 1, 3, args, NULL) == 0)
        cl->leaving++;
    const char *rargs[] = {set, node};
    for (int i = 0; i < cl->nshards; i++) {
        if (script(cl, i, S_REAPNICKS, left, NULL, 1, 2, rargs, NULL) == 0)
            cl->leaving++;
        if (script(cl, i, S_REAPCHANS, left, NULL, 0, 1, rargs + 1, NULL) == 0)
            cl->leaving++;
    }
}

static void tick(struct cluster *cl)
{
    for (int i = 0; i < cl->nshards; i++) {
        struct shard *sh = &cl->shards[i];
        if (cl->now_ms < sh->retry_ms)
            continue;
        if (!sh->cmd.ac)
            connect_shard(&sh->cmd);
        if (!sh->sub.ac)
            connect_shard(&sh->sub);
    }
    if (cl->now_ms >= cl->beat_ms && cl->shards[0].cmd.ready) {
        beat(cl);
        cl->beat_ms = cl->now_ms + (uint64_t)cl->heartbeat_s * 1000;
    }
}

static void *cluster_main(void *arg)
{
    struct cluster *cl = arg;
    pthread_setname_np(pthread_self(), "tcpchatd-clus");
    for (;;) {
        cl->now_ms = now_ms();
        if (cl->now_ms - cl->tick_ms >= CLUSTER_TICK_MS) {
            cl->tick_ms = cl->now_ms;
            tick(cl);
        }
        pthread_mutex_lock(&cl->lock);
        int stopping = cl->stopping && !cl->head;
        pthread_mutex_unlock(&cl->lock);
        if (stopping && !cl->left)
            leave(cl);
        if (cl->left && (cl->leaving <= 0 || cl->now_ms >= cl->leave_by_ms))
            break;
        loop_wait(cl->loop, CLUSTER_TICK_MS / 2);
    }
    for (int i = 0; i < cl->nshards; i++) {
        struct shard *sh = &cl->shards[i];
        if (sh->cmd.ac)
            redisAsyncFree(sh->cmd.ac);
        if (sh->sub.ac)
            redisAsyncFree(sh->sub.ac);
    }
    return NULL;
}

/* --- start and stop --------------------------------------------------------------------------- */

/* A blocking connection for the start: connected, authenticated, on the right database. */
static redisContext *connect_now(const struct cluster *cl, const struct redis_server *rs)
{
    return redis_connect_blocking("cluster", rs, cl->password, CONNECT_TIMEOUT);
}

/* Whether a heartbeat value ("host pid") is of a process on this host that is gone: a node
 * killed and started again by its supervisor takes over at once instead of being refused
 * until the old heartbeat lapses. */
static int earlier_run(const char *instance)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    const char *sp = strrchr(instance, ' ');
    if (!sp || (size_t)(sp - instance) != strlen(host) ||
        strncmp(instance, host, strlen(host)) != 0)
        return 0;
    long pid = strtol(sp + 1, NULL, 10);
    return pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Takes a node number and checks the name; frees what an earlier run under the same name
 * left (a node killed and started again need not wait for the heartbeat to lapse); carries
 * what the node kept when it ran alone into the network (carry_files). */
static int join(struct cluster *cl)
{
    redisContext *c[REDIS_SHARDS_MAX] = {0};
    int rc = -1;
    for (int i = 0; i < cl->nshards; i++)
        if (!(c[i] = connect_now(cl, &cl->shards[i].rs)))
            goto out;
    /* A number no live node has: 23 bits above the 40 of a client's own number (0 means a
     * single node), held from the first moment by its heartbeat key. */
    redisReply *r = NULL;
    for (int tries = 0; tries < 100 && !cl->node; tries++) {
        r = redisCommand(c[0], "INCR tc:nodeseq");
        if (!r || r->type != REDIS_REPLY_INTEGER) {
            log_error("cluster: INCR tc:nodeseq: %s", r && r->str ? r->str : c[0]->errstr);
            freeReplyObject(r);
            goto out;
        }
        uint64_t n = (uint64_t)r->integer % ((1u << 23) - 1) + 1;
        freeReplyObject(r);
        r = redisCommand(c[0], "SET tc:alive:%llu %s NX EX %d", (unsigned long long)n, cl->instance,
                         3 * cl->heartbeat_s);
        if (r && r->type == REDIS_REPLY_STATUS)
            cl->node = n;
        freeReplyObject(r);
    }
    if (!cl->node) {
        log_error("cluster: found no free node number");
        goto out;
    }
    /* In the node table from the start: if this node dies before its first heartbeat, the
     * others still find its users to drop. */
    freeReplyObject(
        redisCommand(c[0], "HSET tc:nodes %llu %s", (unsigned long long)cl->node, cl->name));
    r = redisCommand(c[0], "HGETALL tc:nodes");
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2) {
        const char *n = r->element[i]->str, *name = r->element[i + 1]->str;
        if (!n || !name || strcmp(name, cl->name) != 0 || strtoull(n, NULL, 10) == cl->node)
            continue;
        redisReply *alive = redisCommand(c[0], "GET tc:alive:%s", n);
        int running = alive && alive->type == REDIS_REPLY_STRING && !earlier_run(alive->str);
        freeReplyObject(alive);
        if (running) {
            log_error("cluster: a node named %s is running already; give this one another "
                      "--node-name",
                      cl->name);
            freeReplyObject(r);
            goto out;
        }
        log_info("cluster: freeing what node %s (%s) left behind", n, name);
        freeReplyObject(redisCommand(c[0], "EVAL %s 1 tc:nodes %s %s", scripts[S_LEAVE], n, name));
        for (int s = 0; s < cl->nshards; s++) {
            freeReplyObject(
                redisCommand(c[s], "EVAL %s 1 tc:nicks:%s %s", scripts[S_REAPNICKS], n, n));
            freeReplyObject(redisCommand(c[s], "EVAL %s 0 %s", scripts[S_REAPCHANS], n));
        }
    }
    freeReplyObject(r);
    carry_files(cl, c[0]);
    rc = 0;
out:
    for (int i = 0; i < cl->nshards; i++)
        if (c[i])
            redisFree(c[i]);
    return rc;
}

int cluster_open(struct server *srv)
{
    const struct config *cfg = &srv->cfg;
    if (!cfg->cluster)
        return 0;
    struct cluster *cl = calloc(1, sizeof *cl);
    if (!cl)
        return -1;
    cl->srv = srv;
    cl->evfd = -1;
    quits_init(&cl->quits, CLUSTER_QUITS_MAX);
    cl->heartbeat_s = cfg->cluster_heartbeat;
    cl->history_max = cfg->history_max;
    cl->history_days = cfg->history_days;
    pthread_mutex_init(&cl->lock, NULL);
    pthread_mutex_init(&cl->names_lock, NULL);
    pthread_cond_init(&cl->up_cond, NULL);
    snprintf(cl->name, sizeof cl->name, "%s", cfg->node_name ? cfg->node_name : cfg->server_name);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    snprintf(cl->instance, sizeof cl->instance, "%s %ld", host, (long)getpid());
    struct redis_server rs[REDIS_SHARDS_MAX];
    char why[256];
    cl->nshards = redis_url_parse(cfg->cluster, rs, REDIS_SHARDS_MAX, why, sizeof why);
    if (cl->nshards < 0) {
        log_error("cluster: %s", why);
        goto fail;
    }
    if (cfg->cluster_password_file &&
        redis_password_file("cluster", cfg->cluster_password_file, cl->password) < 0)
        goto fail;
    for (int s = 0; s < S_COUNT; s++) {
        unsigned char md[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)scripts[s], strlen(scripts[s]), md);
        for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
            snprintf(cl->sha[s] + 2 * i, 3, "%02x", md[i]);
    }
    for (int i = 0; i < cl->nshards; i++) {
        struct shard *sh = &cl->shards[i];
        sh->cl = cl;
        sh->index = i;
        sh->rs = rs[i];
        sh->backoff_ms = BACKOFF_MIN_MS;
        sh->cmd.sh = sh->sub.sh = sh;
        sh->sub.sub = 1;
    }
    if (join(cl) < 0)
        goto fail;
    snprintf(cl->my_channel, sizeof cl->my_channel, "tc:n:%llu", (unsigned long long)cl->node);
    atomic_store(&srv->next_client_id, cl->node << CLUSTER_NODE_SHIFT);
    event_set_node(cl->node);
    cl->loop = loop_create(64);
    cl->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!cl->loop || cl->evfd < 0 ||
        loop_watch(cl->loop, cl->evfd, LOOP_READ, &cl->ev_io, on_requests) < 0) {
        log_error("cluster: cannot set up its loop: %s", strerror(errno));
        goto fail;
    }
    srv->cluster = cl;
    srv->remote.to_client = remote_to_client;
    srv->remote.kill = remote_kill;
    srv->remote.chan = remote_chan;
    srv->remote.arg = cl;
    ban_use_network(save_ban, cl);
    chanreg_use_network(save_creg, cl);
    if (pthread_create(&cl->thread, NULL, cluster_main, cl) != 0) {
        log_error("cluster: cannot start its thread");
        srv->cluster = NULL;
        srv->remote.to_client = NULL;
        srv->remote.kill = NULL;
        srv->remote.chan = NULL;
        ban_use_network(NULL, NULL);
        chanreg_use_network(NULL, NULL);
        goto fail;
    }
    /* Clients are let in once the node can ask the network about their nicks (their
     * connections wait in the listen backlog meanwhile); a Redis that went in between leaves
     * the node degraded, as when it goes later. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CONNECT_TIMEOUT;
    pthread_mutex_lock(&cl->lock);
    while (!cl->up && pthread_cond_timedwait(&cl->up_cond, &cl->lock, &until) == 0)
        ;
    int up = cl->up;
    pthread_mutex_unlock(&cl->lock);
    if (!up)
        log_warn("cluster: the links to Redis are not up after %d s; starting degraded",
                 CONNECT_TIMEOUT);
    log_info("cluster: node %s is number %llu of the network on %d Redis server%s", cl->name,
             (unsigned long long)cl->node, cl->nshards, cl->nshards == 1 ? "" : "s");
    return 0;
fail:
    if (cl->loop)
        loop_destroy(cl->loop);
    if (cl->evfd >= 0)
        close(cl->evfd);
    pthread_cond_destroy(&cl->up_cond);
    pthread_mutex_destroy(&cl->names_lock);
    pthread_mutex_destroy(&cl->lock);
    free(cl);
    return -1;
}

void cluster_close(struct server *srv)
{
    struct cluster *cl = srv->cluster;
    if (!cl)
        return;
    pthread_mutex_lock(&cl->lock);
    cl->stopping = 1;
    pthread_mutex_unlock(&cl->lock);
    uint64_t one = 1;
    if (write(cl->evfd, &one, sizeof one) < 0)
        log_warn("cluster: waking the cluster thread: %s", strerror(errno));
    pthread_join(cl->thread, NULL);
    srv->remote.to_client = NULL;
    srv->remote.kill = NULL;
    srv->remote.chan = NULL;
    srv->cluster = NULL;
    ban_use_network(NULL, NULL);
    chanreg_use_network(NULL, NULL);
    for (int i = 0; i < cl->nshards; i++)
        free_held(&cl->shards[i]);
    struct claims *c, *tmp;
    HASH_ITER(hh, cl->claims, c, tmp)
    {
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): false positive, delete in HASH_ITER */
        HASH_DEL(cl->claims, c);
        free(c);
    }
    for (struct req *q = cl->head; q;) {
        struct req *next = q->next;
        free(q);
        q = next;
    }
    loop_destroy(cl->loop);
    close(cl->evfd);
    pthread_cond_destroy(&cl->up_cond);
    pthread_mutex_destroy(&cl->names_lock);
    pthread_mutex_destroy(&cl->lock);
    quits_clear(&cl->quits);
    while (cl->kept) {
        struct req *next = cl->kept->next;
        free(cl->kept);
        cl->kept = next;
    }
    free(cl);
}
