/* defines: every limit and default of tcpchatd in one place, with where each number comes
 * from. Options (config.c) override the ones marked "default". */
#ifndef TCPCHAT_DEFINES_H
#define TCPCHAT_DEFINES_H

#include "common/version.h"

#define TCPCHAT_NETWORK "tcpchat"

#define DEFAULT_PORT        6667 /* the IRC port (RFC 7194 registers 6697 for TLS) */
#define DEFAULT_TLS_PORT    6697 /* RFC 7194; opened only when a certificate is given */
#define DEFAULT_HTTP_PORT   8080 /* the web client and WebSocket; 0 turns it off */
#define DEFAULT_HTTPS_PORT  8443 /* the same over TLS, when a certificate is given */
#define DEFAULT_CHANNEL     "#lobby"
#define DEFAULT_MAX_CLIENTS 10000
#define DEFAULT_SENDQ       (1024 * 1024) /* hard bound: disconnect past it */
#define DEFAULT_SENDQ_SOFT  (64 * 1024)   /* soft bound: stop reading the client's commands */
#define DEFAULT_RECVQ       16384         /* unprocessed input held per client */
/* A client in its first SENDQ_NEW_MS after registration has not been around long enough to
 * show that it reads: beyond what its own registration queued (welcome, NAMES, replay), at
 * most SENDQ_NEW_BYTES of other users' lines (the JOIN notices of a join storm) wait for it,
 * its socket full, before it is dropped with "Max SendQ exceeded". 10,000 clients joining the
 * default channel without reading were each sent ~5,000 JOIN lines on average (N^2/2 in all),
 * which --sendq (1 MiB) let them all keep: RSS reached 262-325 MB. A reader takes them as
 * they come, and its socket's buffers hold more than this before its queue grows. */
#define SENDQ_NEW_BYTES (32 * 1024)
#define SENDQ_NEW_MS    30000
/* Server-wide backlog (srv->backlog, --backlog-max): bytes of mailbox items and of messages
 * waiting for the history writer. Past it no worker runs its clients' input (they wait, as
 * for a full send queue) until it drains: with flood control off, four blasters grew RSS to
 * 1.8 GB in 6 s. A row waiting for the writer counts ~680 bytes at least (~1,250 for a line of
 * 200 bytes of text): 32 MiB is at most ~49,000 of them, under HISTORY_QUEUE_MAX, so senders
 * wait before any is refused. */
#define DEFAULT_BACKLOG_MAX   (32 * 1024 * 1024)
#define DEFAULT_FLOOD_RATE    10                             /* lines per second, sustained */
#define DEFAULT_FLOOD_BURST   40                             /* lines in one burst */
#define DEFAULT_REG_TIMEOUT   60                             /* seconds to finish NICK/USER */
#define DEFAULT_PING_INTERVAL 120                            /* idle seconds before we PING */
#define DEFAULT_PING_TIMEOUT  120                            /* seconds to answer our PING */
#define DEFAULT_DESCRIPTION   TCPCHAT_NETWORK " chat server" /* WHOIS 312 */

#define DEFAULT_MAX_PER_IP          10   /* connections one address may hold */
#define DEFAULT_LOGIN_FAILURES      10   /* failed logins per address per LOGIN_WINDOW_S */
#define DEFAULT_REGISTERS           3    /* accounts registered per address per REGISTER_WINDOW_S */
#define DEFAULT_ACCOUNT_EXPIRE_DAYS 30   /* an account never logged into is deleted after */
#define ACCOUNT_EXPIRE_EVERY_S      3600 /* how often the account thread looks for them */
#define LOGIN_WINDOW_S              600
#define REGISTER_WINDOW_S           3600
#define BUDGET_ADDRS_MAX            10000 /* addresses one budget table remembers */
/* The global budget (--login-fail-global): failed PLAIN logins per LOGIN_GLOBAL_WINDOW_S from
 * all addresses together. 600 a minute is ten failures a second, about 60% of what one account
 * thread can check (argon2id "interactive", ~60 ms each): past it a flood from many addresses
 * (which no per-address budget bounds) is refused without argon2, and the thread stays free
 * for the users who logged in from their address before (LOGIN_TRUSTED_S). */
#define DEFAULT_LOGIN_FAIL_GLOBAL 600
#define LOGIN_GLOBAL_WINDOW_S     60
#define LOGIN_TRUSTED_S           86400 /* a successful login trusts its address this long */
#define DEFAULT_CONN_RATE         30    /* new connections per minute from one address */
/* Log lines anyone can cause go through budgets (common/log.h log_limited): at most this many
 * a second of each kind, the next line saying how many were left out. Connections opened and
 * closed: 50 a second each shows every connection of a normal server, while a flood of them
 * from many addresses (which the per-address limits do not bound) stays far below journald's
 * default rate limit (10,000 lines per 30 s, past which it drops lines of every kind).
 * Failed logins and OPERs: a few a second, as refused connections. */
#define LOG_CONN_LINES_PER_S  50
#define LOG_LOGIN_LINES_PER_S 5
/* Not limited per address: nobody by default. Behind a local reverse proxy every user comes
 * from loopback, and a default exemption made them all unlimited (issue 21). */
#define DEFAULT_IP_EXEMPT     ""
#define DEFAULT_METRICS_ALLOW "127.0.0.0/8,::1" /* who may read /metrics: this machine */
#define CIDR_LIST_MAX         16                /* address blocks in --ip-exempt, --metrics-allow */
#define IP_TABLE_MAX          200000            /* addresses tracked at once */
#define IP_PRUNE_MS           60000             /* how often idle addresses are forgotten */
#define JOINPART_PENALTY      2                 /* extra flood tokens a JOIN or PART costs */
/* ...and one more per this many members it is announced to (state/chan.c): the broadcast's
 * cost. Joining a room of 10,000 costs 20 of the 40-line burst; a join/part cycler in it makes
 * at most ~5,000 notices a second at the default --flood-rate. */
#define JOIN_BROADCAST_MEMBERS 500
#define NICK_BURST             3     /* nick changes allowed at once... */
#define NICK_INTERVAL_MS       10000 /* ...then one per this many milliseconds */
#define DEFAULT_DATA_DIR       "./data"
#define DEFAULT_HISTORY_REPLAY 50    /* messages replayed on JOIN */
#define DEFAULT_HISTORY_DAYS   30    /* retention by age */
#define DEFAULT_HISTORY_MAX    10000 /* retention by count, per channel or conversation */
#define HISTORY_QUERY_MAX                                                                          \
    100 /* messages one CHATHISTORY returns (ISUPPORT CHATHISTORY): with                           \
           tags a message may be 4.6 KB, and 100 fit a send queue */
#define HISTORY_QUEUE_MAX      100000 /* messages waiting for the store before senders are refused */
#define HISTORY_PRUNE_MS       60000  /* how often retention runs */
#define HISTORY_COMMIT_MS      1000 /* the store commits at most this long after a row (journal.h) */
#define HISTORY_JOURNAL_COMMIT (4u << 20)  /* ...or as soon as the journal holds this many bytes */
#define HISTORY_JOURNAL_MAX    (16u << 20) /* while commits fail, no row is stored past this */
/* Rows reach the writer in batches: a row into an empty queue wakes it, and it sleeps this
 * long before taking them (or until this many wait); a query or a post wakes it at once. */
#define HISTORY_NAP_MS 20
#define HISTORY_BATCH  1024
/* Password checks waiting for the account thread, in each of its two queues (--login-queue;
 * store/account.c): logins from addresses without recent failures, and the rest. */
#define DEFAULT_LOGIN_QUEUE 256
#define LOGIN_QUEUE_MAX     100000 /* the largest --login-queue */
#define SASL_FAILURES_MAX   3      /* failed logins before the connection is closed */
#define SASL_CHUNK          400    /* AUTHENTICATE: bytes of base64 per line (IRCv3 sasl) */
#define SASL_MAX            1200   /* AUTHENTICATE: base64 bytes of one PLAIN message */
#define PASSWORD_MIN        8      /* REGISTER: shortest account password */
#define WORKERS_MAX         256
/* Cluster (docs/cluster.md). A user on another node is known by worker WORKER_REMOTE + its
 * worker there; client ids carry their node's number above CLUSTER_NODE_SHIFT bits, so ids are
 * unique network-wide. */
#define WORKER_REMOTE             1024
#define CLUSTER_NODE_SHIFT        40
#define DEFAULT_CLUSTER_HEARTBEAT 2      /* seconds; a node silent for 3 of them has left */
#define CLUSTER_QUEUE_MAX         100000 /* requests waiting for Redis before senders are refused */
#define CLUSTER_BACKFILL          1000   /* catching up on a channel: its last messages delivered */
#define CLUSTER_STORE_WAIT_MS     5000   /* catching up: the longest wait for a store behind */
#define CLUSTER_CLOCK_SLACK_MS    10000  /* how far the clocks of nodes and Redis may differ */
#define CLUSTER_PM_BACKFILL       200    /* a user logging in: last messages per conversation */
/* Users of this node who left while a Redis server was away: the QUIT events kept to publish
 * when it returns (cluster/quits.h; one per user and server its channels live on). Past this
 * many, a departure reaches the others with a generic reason. */
#define CLUSTER_QUITS_MAX 1024
/* Server bans and channel registrations changed while the first Redis server was away: the
 * changes kept to send when it returns (past this many, one holds on its node only). */
#define CLUSTER_KEPT_MAX 256
/* How long a server keeps those QUIT events (tc:left) for the nodes that come back after
 * they were published, and would otherwise see a generic PART (seconds). */
#define CLUSTER_LEFT_KEEP_S 300
/* A node's inbox stream on each Redis server keeps the private messages published to it, so
 * that those published while its subscriber was reconnecting are delivered when it is back
 * (cluster.c "inbox"); its last ones, about this many (MAXLEN ~, Redis trims in blocks). The
 * scripts spell it out: keep them equal. */
#define CLUSTER_INBOX_MAX        1000
#define CLUSTER_PM_CONVERSATIONS 100 /* ... of at most this many of its conversations */
#define LISTEN_BACKLOG           1024
#define USER_MAX                 10 /* ident part of nick!user@host, '~' included (RFC 2812 USERLEN) */
#define REALNAME_MAX             100 /* kept for WHOIS; longer real names are cut */
#define HOST_MAX                 64  /* textual IPv4/IPv6 address */
#define CLOSE_REASON_MAX         255 /* longest reason a connection is closed with */
#define SOURCE_MAX               (30 + 1 + USER_MAX + 1 + HOST_MAX)
#define TOPIC_MAX                390 /* TOPICLEN: leaves room for the prefix in a 512-byte line */
#define KICK_MAX                 255 /* KICKLEN */
#define RENAME_REASON_MAX        255 /* draft/channel-rename: a RENAME's reason, bytes */
/* A channel is renamed at most once in this many seconds: each rename sends every member
 * without draft/channel-rename a PART, a JOIN and NAMES (the specification's cooldown). A
 * change of case alone, one line to those with it and nothing to the others, is not held. */
#define RENAME_COOLDOWN 60
/* A JOIN of a channel's old name is sent on to the new one (the specification's redirection)
 * for this long, for the last RENAME_REDIRECTS renames. */
#define RENAME_REDIRECT_SECS  3600
#define RENAME_REDIRECTS      256
#define AWAY_MAX              200 /* AWAYLEN */
#define KEY_MAX               23  /* channel key length (ircu/Solanum use 23) */
#define INVITES_MAX           32  /* pending invitations kept per channel; the oldest goes first */
#define MASK_MAX              (SOURCE_MAX + 8) /* a +b/+e/+I mask */
#define LIST_MAX              100              /* entries per +b, +e and +I list (MAXLIST) */
#define WHOWAS_MAX            1024             /* nicknames remembered for WHOWAS */
#define WHOWAS_REPLIES        10               /* entries one WHOWAS returns at most */
#define WHO_REPLIES_MAX       500              /* users one WHO of a mask lists at most */
#define MONITOR_MAX           100              /* nicks one client may MONITOR (ISUPPORT) */
#define REDACT_REASON_MAX     300  /* draft/message-redaction: a REDACT's reason, bytes */
#define READMARK_TARGETS_MAX  1000 /* draft/read-marker: targets one account keeps a time for */
#define READMARK_SESSIONS_MAX 16   /* connections of one account told of its marker changes */
#define MODES_PER_LINE        4    /* MODES: parameter-taking modes applied per MODE command */
#define CHANNELS_PER_USER     50   /* CHANLIMIT */
#define TARGETS_MAX           4    /* TARGMAX for PRIVMSG and NOTICE */
#define PASSWORD_MAX          128
#define MOTD_LINES_MAX        100 /* lines of the MOTD file sent; the rest is ignored */
#define MOTD_LINE_MAX         400 /* bytes of one MOTD line sent */
#define ANNOUNCE_MAX          400 /* bytes of one console announcement sent */
#define DESCRIPTION_MAX       200 /* bytes of the server description */
#define OPER_NAME_MAX         32  /* name of an [oper "name"] entry, the first OPER parameter */
#define LABEL_MAX             64  /* labeled-response: labels are short; longer ones are ignored */
#define OPERS_MAX             256 /* operator entries in a config file */
#define KILL_REASON_MAX       200 /* bytes of a KILL reason kept */
/* draft/metadata-2 (its CAP value says max-subs, max-keys, max-value-bytes). A value fits a
 * 512-byte line with the longest source, channel name and key around it: ":nick!user@host
 * METADATA #channel key * :value" is at most 238 bytes without the value. */
#define METADATA_SUBS_MAX  50  /* keys one client may subscribe to */
#define METADATA_KEYS_MAX  20  /* keys set on one user, or on one channel */
#define METADATA_VALUE_MAX 256 /* bytes of one value (UTF-8) */
#define METADATA_KEY_MAX   64  /* bytes of one key name (the draft sets no bound: ours) */
/* Registered channels (ChanServ, store/chanreg.h): the table is in memory and every JOIN
 * reads it, so an account founds a few and names a bounded access list on each. */
#define CHANREG_PER_ACCOUNT 20 /* channels one account may found */
#define CHANREG_ACCESS_MAX  50 /* accounts on one channel's access list (AMODE) */
/* The services' pseudo-users (irc/cmd_services.c): their replies come from these. */
#define NICKSERV_SOURCE  "NickServ!NickServ@services"
#define CHANSERV_SOURCE  "ChanServ!ChanServ@services"
#define CONFIG_ERROR_MAX 512 /* "FILE:LINE: what is wrong" */
/* Server bans (KLINE, DLINE: store/ban.h). Every connection is checked against each one in
 * turn, and each is a row of bans.db: a bound keeps both small. */
#define BANS_MAX         1000 /* K-lines and D-lines set at once, both kinds together */
#define BAN_REASON_MAX   200  /* bytes of a ban's reason kept */
#define BAN_MASK_MAX     (USER_MAX + 1 + HOST_MAX) /* "user@host" of a K-line, globs included */
#define BAN_DURATION_MAX (52L * 7 * 86400) /* longest timed ban, seconds (Solanum: 52 weeks) */
/* The widest blocks a ban may name (narrower is refused as "too wide"): a /8 of IPv4, a /16 of
 * IPv6. Wider would ban much of the Internet by a typo. */
#define BAN_CIDR_MIN_V4 8
#define BAN_CIDR_MIN_V6 16
#define BAN_PRUNE_BATCH 16 /* expired bans taken out of the table per turn of its lock */
/* draft/multiline (IRCv3, work in progress): a client's batch of PRIVMSG or NOTICE lines,
 * gathered until it ends and then relayed as one message (CAP value max-bytes,max-lines).
 * Ergo's numbers: 4096 bytes of text (each line feed joining two lines counts one) in at most
 * 100 lines. A batch still open counts against them, so a client's open batch holds at most
 * this much, and a client has at most one open. */
#define MULTILINE_MAX_BYTES 4096
#define MULTILINE_MAX_LINES 100
#define BATCH_REF_MAX       64 /* a client's batch reference; longer ones are refused */
/* Flood tokens (lines) one OPER costs: argon2id is slow on purpose, so that one client cannot
 * keep its worker busy verifying guesses. */
/* Bytes of replies one command may make for the price of its line; each further
 * FLOOD_OUTPUT_BYTES cost one more line of the flood allowance. */
#define FLOOD_OUTPUT_BYTES 2048
#define OPER_PENALTY       10
#define OPER_FAILURES_MAX  3 /* failed OPERs before the connection is closed */

/* The web listener (core/web.c). A request is its headers: no body is taken. */
#define WEB_ORIGINS_MAX     1024  /* bytes of --web-origins */
#define HTTP_REQUEST_MAX    8192  /* bytes of one request's line and headers */
#define HTTP_HEADERS_MAX    40    /* header lines in one request (Chromium sends ~15) */
#define HTTP_REQUESTS_MAX   100   /* requests one connection may make before it is closed */
#define HTTP_IDLE_MS        15000 /* no whole request in this long (or --reg-timeout): closed */
#define WEB_FILES_MAX       256   /* files served from --web-root */
#define WEB_FILE_MAX        (4u << 20)  /* bytes of one of them */
#define WEB_FILES_BYTES_MAX (16u << 20) /* bytes of all of them */
/* WebSocket (RFC 6455): a message is one IRC line, so the longest is the longest line the
 * server takes (8191 bytes of tags and 512 of line, less the CR LF); a client's control frames
 * (a PING's PONG) wait in at most WS_OUT_MAX bytes before it counts as not reading. */
#define WS_OUT_MAX 65536

#define REHASH_PAUSE_MS    5000 /* longest a rehash waits for every worker to park */
#define REHASH_WAITING_MAX 16   /* REHASH senders told the outcome; more just get 382 */

#define TICK_MS       1000 /* timer scan for registration and ping timeouts */
#define STALL_TICK_MS 50   /* retry interval for clients paused by flood or send queue */
/* Output pacing (pace.h). A write per recipient per message costs ~5 us of kernel time (TCP
 * send and the loopback receive), whatever it carries: with a big room at a steady rate each
 * worker wrote to every member for every message. While a worker keeps writing to many
 * clients (a flush of FLUSH_BIG_CLIENTS or more within FLUSH_BUSY_MS) and their lines come
 * close together (over the last FLUSH_PACE_WINDOW_MS, at least FLUSH_MERGE_SHARE_PCT % of
 * the lines that started a new write came within FLUSH_MERGE_GAP_MS of that client's previous
 * line), a flush of clients holding one line each waits for their next line, so that two
 * leave in one writev: it goes as soon as every held client has it, at the latest after
 * FLUSH_HOLD_MS. bench latency scenario, 200 msg/s into 1,000: ~2 lines per write, server
 * CPU -30 % against no pacing. Against the fixed 5 ms hold it replaced (alternating runs,
 * bench/RESULTS.md), releasing on the next line and not holding lines 10 ms apart (a room at
 * 100 msg/s) lowered p50 and p99 at 100 and 200 msg/s at the same CPU; a longest hold of 6
 * instead of 8 ms merged fewer lines (CPU +8 %, p99 +28 % at 200 msg/s). */
#define FLUSH_BIG_CLIENTS     128
#define FLUSH_BUSY_MS         50
#define FLUSH_HOLD_MS         8
#define FLUSH_MERGE_GAP_MS    8
#define FLUSH_MERGE_SHARE_PCT 50
#define FLUSH_PACE_WINDOW_MS  100
#define SHUTDOWN_FLUSH_MS     2000 /* how long shutdown waits for "ERROR" lines to drain */
#define EPOLL_BATCH           256  /* events taken per epoll_wait */
/* One writev takes at most WRITEV_MAX lines (IOV_MAX) or WRITEV_BYTES bytes, whichever comes
 * first: a join storm queues thousands of 45-byte JOIN lines per client, and 64 iovecs (the
 * old bound) made 2.9 KB writes of them, each paying the whole TCP path. */
#define WRITEV_MAX   1024
#define WRITEV_BYTES (256 * 1024)
/* Bytes a TLS flush gathers per SSL_write: one record's plaintext (RFC 8446 5.1: 2^14). The
 * handshake has no timeout of its own: nothing registers before it ends, so --reg-timeout
 * bounds it. */
#define TLS_RECORD_MAX 16384

#endif
