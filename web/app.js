// app: the web client's page. The login form starts a Connection (irc.js); what the server
// sends becomes windows (windows.js) with their logs, the sidebar, the topic bar and the nick
// list; what the user types goes out through commands.js.
import { Connection } from './irc.js';
import { addEvent, infoLine, messageLine, Win } from './windows.js';
import { appendText, ircLower, mentions, nickClass, stripFormatting } from './text.js';
import { runInput, InputKeys } from './commands.js';

// CHATHISTORY page sizes: on joining, scrolling up, and catching up after a reconnect (all
// bounded by the server's CHATHISTORY=n).
const HISTORY_JOIN = 50;
const HISTORY_OLDER = 50;
const HISTORY_AFTER = 100;
// A CHATHISTORY answer that never comes must not hold a channel's live lines for ever.
const CATCH_UP_MAX_MS = 10000;
// On joining, WHO tells who is away, in channels of at most this many people.
const WHO_USERS_MAX = 500;

const $ = (id) => document.getElementById(id);
const conn = new Connection(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/irc`);
const windows = new Map(); // Win.key → Win
let serverWin = null;
let active = null;
let focusOnJoin = ''; // the channel /join asked for: shown once the server says we are in

// ---- windows ----------------------------------------------------------------------------

function isChannel(name) {
  const types = conn.isupport.CHANTYPES || '#';
  return name.length > 0 && types.includes(name[0]);
}

function prefixOrder() {
  const m = /^\(([^)]*)\)(.*)$/.exec(conn.isupport.PREFIX || '(ov)@+');
  return m ? m[2] : '@+';
}

function prefixModes() {
  const m = /^\(([^)]*)\)(.*)$/.exec(conn.isupport.PREFIX || '(ov)@+');
  const out = {};
  if (m) [...m[1]].forEach((mode, i) => { out[mode] = m[2][i]; });
  return out;
}

function findWin(name) {
  return windows.get(name === '*' ? '*' : ircLower(name));
}

function getWin(name, kind) {
  let win = findWin(name);
  if (win) return win;
  win = new Win(name, kind);
  windows.set(win.key, win);
  $('logs').append(win.log);
  win.log.addEventListener('scroll', () => {
    win.stick = win.nearBottom();
    if (win.log.scrollTop < 40) loadOlder(win);
  });
  renderSidebar();
  // A private conversation starts with what was said in it before (the server keeps that
  // for two accounts); live lines wait until it is in, as on joining a channel.
  if (kind === 'query' && conn.connected) catchUp(win);
  return win;
}

function closeWin(win) {
  if (win === serverWin) return;
  windows.delete(win.key);
  win.log.remove();
  if (active === win) activate(orderedWindows()[0] || serverWin);
  renderSidebar();
}

function orderedWindows() {
  const byName = (a, b) => a.key.localeCompare(b.key);
  const all = [...windows.values()];
  return [
    ...all.filter((w) => w.kind === 'server'),
    ...all.filter((w) => w.kind === 'channel').sort(byName),
    ...all.filter((w) => w.kind === 'query').sort(byName),
  ];
}

function activate(win) {
  if (!win) return;
  if (active) active.log.hidden = true;
  active = win;
  win.log.hidden = false;
  win.unread = 0;
  win.mention = false;
  if (win.stick) win.scrollToBottom();
  closePanels();
  renderHeader();
  renderUsers();
  renderSidebar();
  fillView(win);
}

// The phone layout's sliding lists.
function closePanels() {
  document.body.classList.remove('sidebar-open', 'users-open');
  $('toggle-sidebar').setAttribute('aria-expanded', 'false');
  $('toggle-users').setAttribute('aria-expanded', 'false');
}

function renderSidebar() {
  const list = $('window-list');
  list.replaceChildren();
  for (const win of orderedWindows()) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = `window-button ${win.kind}`;
    button.dataset.window = win.kind === 'server' ? '*' : win.name;
    if (win === active) button.setAttribute('aria-current', 'true');
    if (win.mention) button.classList.add('mentioned');
    if (win.kind === 'channel' && !win.joined) button.classList.add('parted');
    const name = document.createElement('span');
    name.className = 'window-label';
    name.textContent = win.name;
    button.append(name);
    if (win.unread) {
      const badge = document.createElement('span');
      badge.className = win.mention ? 'badge unread mention' : 'badge unread';
      badge.textContent = String(win.unread);
      badge.setAttribute('aria-label', `${win.unread} unread${win.mention ? ', mentions you' : ''}`);
      button.append(badge);
    }
    button.addEventListener('click', () => { activate(win); $('input').focus(); });
    li.append(button);
    list.append(li);
  }
  renderTitle();
}

function renderTitle() {
  let unread = 0;
  let mention = false;
  for (const win of windows.values()) {
    unread += win.unread;
    mention ||= win.mention;
  }
  const where = active && active !== serverWin ? `${active.name} – ` : '';
  document.title = `${unread ? `(${unread}${mention ? '!' : ''}) ` : ''}${where}tcpchat`;
}

function renderHeader() {
  if (!active) return;
  $('window-name').textContent = active.name;
  const topic = $('topic');
  topic.replaceChildren();
  if (active.kind === 'channel' && active.topic) {
    appendText(topic, stripFormatting(active.topic));
    topic.title = active.topic;
  } else {
    topic.removeAttribute('title');
  }
  document.body.classList.toggle('no-users', active.kind !== 'channel');
}

function renderUsers() {
  const list = $('user-list');
  list.replaceChildren();
  if (!active || active.kind !== 'channel') {
    $('user-count').textContent = '';
    return;
  }
  if (!active.joined) {
    $('user-count').textContent = 'You are not in this channel';
    return;
  }
  const users = active.sortedUsers(prefixOrder());
  $('user-count').textContent = `${users.length} ${users.length === 1 ? 'person' : 'people'}`;
  const order = prefixOrder();
  for (const u of users) {
    const li = document.createElement('li');
    li.className = u.away ? 'user away' : 'user';
    const prefix = document.createElement('span');
    prefix.className = 'prefix';
    prefix.textContent = [...u.prefixes].sort((a, b) => order.indexOf(a) - order.indexOf(b))[0] || '';
    const nick = document.createElement('button');
    nick.type = 'button';
    nick.className = `nick ${nickClass(u.nick)}`;
    nick.textContent = u.nick;
    if (u.away) {
      nick.title = `${u.nick} is away${u.awayText ? `: ${u.awayText}` : ''}`;
      nick.setAttribute('aria-label', `${u.nick} (away)`);
    } else {
      nick.title = `Talk to ${u.nick} privately`;
    }
    nick.addEventListener('click', () => activate(getWin(u.nick, 'query')));
    li.append(prefix, nick);
    list.append(li);
  }
}

// New lines in a window the reader is not looking at count as unread.
function noteUnread(win, mention) {
  if (win === active && !document.hidden) return;
  win.unread++;
  if (mention) win.mention = true;
  renderSidebar();
}

function info(win, text, time = new Date(), error = false) {
  win.append(infoLine(text, time, error));
}

function joinPart(win, nick, how, time, reason) {
  addEvent(win.log, nick, how, time, reason);
  if (win.stick && !win.log.hidden) win.scrollToBottom();
}

// ---- messages and history ---------------------------------------------------------------

function msgTime(msg) {
  const t = msg.tags.time ? new Date(msg.tags.time) : new Date();
  return Number.isNaN(t.getTime()) ? new Date() : t;
}

// The window a PRIVMSG/NOTICE belongs in (made when it is new). where: 'live', 'append'
// (history after what is shown) or 'prepend' (older history).
function windowOf(msg, where) {
  let target = msg.params[0] || '';
  const statusmsg = conn.isupport.STATUSMSG || '';
  while (target && statusmsg.includes(target[0]) && isChannel(target.slice(1))) target = target.slice(1);
  const self = ircLower(msg.nick) === ircLower(conn.nick);
  if (isChannel(target)) return getWin(target, 'channel');
  if (!msg.prefix.includes('!')) return serverWin; // from the server itself
  if (msg.command === 'NOTICE' && where === 'live' && !self) return findWin(msg.nick) || active || serverWin;
  return getWin(self ? target : msg.nick, 'query');
}

// A CTCP message ("\x01VERSION\x01") → { command, args }, or null for plain text.
function ctcpOf(text) {
  if (!text.startsWith('\x01')) return null;
  const body = text.replace(/^\x01|\x01$/g, '');
  const sp = body.indexOf(' ');
  return { command: (sp < 0 ? body : body.slice(0, sp)).toUpperCase(), args: sp < 0 ? '' : body.slice(sp + 1) };
}

// PRIVMSG/NOTICE → { win, line, self, mention }, line null when it is shown already; or null
// for a CTCP other than ACTION (a status line when live, see onCtcp; not part of the history
// shown).
function chatLine(msg, where) {
  const me = conn.nick;
  let text = msg.params[1] || '';
  let kind = msg.command === 'NOTICE' ? 'notice' : 'message';
  const ctcp = ctcpOf(text);
  if (ctcp) {
    if (ctcp.command !== 'ACTION') return null;
    kind = 'action';
    text = ctcp.args;
  }
  const win = windowOf(msg, where);
  const self = ircLower(msg.nick) === ircLower(me);
  text = stripFormatting(text);
  const time = msgTime(msg);
  // Highlighted: a line naming us. Counted as a mention in the sidebar: that, or any line
  // said to us privately.
  const named = !self && mentions(text, me);
  const mention = named || (!self && win.kind === 'query' && msg.command === 'PRIVMSG');
  if (!win.remember(msg.tags.msgid, time.getTime(), where)) return { win, line: null, self, mention };
  const line = messageLine({ nick: msg.nick || msg.prefix, text, time, kind, msgid: msg.tags.msgid, self, mention: named });
  return { win, line, self, mention };
}

function showLive(msg) {
  const ctcp = ctcpOf(msg.params[1] || '');
  if (ctcp && ctcp.command !== 'ACTION') {
    onCtcp(msg, ctcp);
    return;
  }
  const win = windowOf(msg, 'live');
  if (win.catchingUp) {
    win.held.push(msg); // shown once the history before it is in
    return;
  }
  const r = chatLine(msg, 'live');
  if (!r) return;
  // Already shown: it came in the history asked for when the window opened, but it is
  // still new to the reader.
  if (r.line) r.win.append(r.line);
  if (!r.self) noteUnread(r.win, r.mention);
}

// CTCP (the old client-to-client protocol inside PRIVMSG and NOTICE): a request from someone
// else is answered as IRC clients do, by NOTICE, for the few we know; every request and reply
// is a small status line where the reader will see it, never a new window.
const CTCP_VERSION = 'tcpchat web client';
const CTCP_KNOWN = 'ACTION CLIENTINFO PING VERSION';
// At most this many answers per CTCP_REPLY_WINDOW_MS: a flood of requests must not make us
// flood the server (and be disconnected for it).
const CTCP_REPLY_MAX = 4;
const CTCP_REPLY_WINDOW_MS = 10000;
let ctcpReplies = []; // when the recent answers went out

function ctcpAnswer(ctcp) {
  if (ctcp.command === 'VERSION') return CTCP_VERSION;
  if (ctcp.command === 'PING') return ctcp.args;
  if (ctcp.command === 'CLIENTINFO') return CTCP_KNOWN;
  return null;
}

function onCtcp(msg, ctcp) {
  if (ircLower(msg.nick) === ircLower(conn.nick)) return; // the echo of our own
  const target = msg.params[0] || '';
  const win = (isChannel(target) && findWin(target)) || findWin(msg.nick) || active || serverWin;
  const from = msg.nick || msg.prefix;
  const args = stripFormatting(ctcp.args);
  let text;
  if (msg.command === 'NOTICE') {
    text = `CTCP ${ctcp.command} reply from ${from}${args ? `: ${args}` : ''}`;
  } else {
    const answer = ctcpAnswer(ctcp);
    const now = Date.now();
    ctcpReplies = ctcpReplies.filter((t) => now - t < CTCP_REPLY_WINDOW_MS);
    let answered = false;
    if (answer !== null && msg.prefix.includes('!') && ctcpReplies.length < CTCP_REPLY_MAX) {
      ctcpReplies.push(now);
      answered = conn.send('NOTICE', [msg.nick, `\x01${ctcp.command}${answer ? ` ${answer}` : ''}\x01`]);
    }
    const where = isChannel(target) ? ` to ${target}` : '';
    text = `CTCP ${ctcp.command}${args ? ` ${args}` : ''} from ${from}${where}${answered ? ' (answered)' : ''}`;
  }
  win.append(infoLine(text, msgTime(msg), false, 'ctcp'));
}

function historyOn() {
  return conn.caps.has('draft/chathistory');
}

function historyMax(want) {
  const max = parseInt(conn.isupport.CHATHISTORY, 10);
  return max > 0 ? Math.min(want, max) : want;
}

function requestHistory(win, kind, ref, limit) {
  limit = historyMax(limit);
  win.requests.push({ kind, limit });
  conn.send('CHATHISTORY', [kind.toUpperCase(), win.name, ref, String(limit)]);
}

function refOf(r) {
  return r.msgid ? `msgid=${r.msgid}` : `timestamp=${new Date(r.time).toISOString()}`;
}

// After joining (or a reconnect): what was said before, or what was missed, before any live
// line. The live lines that come meanwhile wait in win.held.
function catchUp(win) {
  if (!historyOn()) return;
  win.catchingUp = true;
  clearTimeout(win.catchUpTimer);
  win.catchUpTimer = setTimeout(() => endCatchUp(win), CATCH_UP_MAX_MS);
  if (win.newest) requestHistory(win, 'after', refOf(win.newest), HISTORY_AFTER);
  else requestHistory(win, 'latest', '*', HISTORY_JOIN);
}

function endCatchUp(win) {
  clearTimeout(win.catchUpTimer);
  win.catchingUp = false;
  const held = win.held;
  win.held = [];
  for (const msg of held) showLive(msg);
}

function loadOlder(win) {
  if (!historyOn() || win.historyDone || !win.oldest || win.kind === 'server') return;
  if (win.requests.some((r) => r.kind === 'before') || win.catchingUp) return;
  requestHistory(win, 'before', refOf(win.oldest), HISTORY_OLDER);
}

// Scrolling up is how older history comes; a log too short to scroll asks for it at once.
function fillView(win) {
  if (win === active && win.log.scrollHeight <= win.log.clientHeight + 40) loadOlder(win);
}

function onHistory(batch) {
  const win = findWin(batch.params[0] || '');
  if (!win) return;
  const req = win.requests.shift() || { kind: 'latest', limit: HISTORY_JOIN };
  const chat = batch.messages.filter((m) => m.command === 'PRIVMSG' || m.command === 'NOTICE');
  if (req.kind === 'before') {
    const fragment = document.createDocumentFragment();
    for (const msg of chat) {
      const r = chatLine(msg, 'prepend');
      if (r && r.line) fragment.append(r.line);
    }
    if (batch.messages.length === 0) win.historyDone = true;
    // oldest moves to the first of this page, shown or not (a duplicate must not stop it).
    const first = chat[0];
    if (first) win.oldest = { msgid: first.tags.msgid, time: msgTime(first).getTime() };
    win.prepend(fragment);
  } else {
    const lines = [];
    for (const msg of chat) {
      const r = chatLine(msg, 'append');
      if (r && r.line) lines.push(r.line);
    }
    win.append(...lines);
    if (req.kind === 'latest' && batch.messages.length < req.limit) win.historyDone = true;
    if (req.kind === 'after' && batch.messages.length >= req.limit && win.newest) {
      requestHistory(win, 'after', refOf(win.newest), HISTORY_AFTER); // a full page: more may follow
      return;
    }
    endCatchUp(win);
  }
  fillView(win);
}

// ---- what the server says ---------------------------------------------------------------

function usersOf(nick) {
  const key = ircLower(nick);
  return [...windows.values()].filter((w) => w.kind === 'channel' && w.users.has(key));
}

function applyModes(win, msg) {
  const modes = msg.params[1] || '';
  const args = msg.params.slice(2);
  const prefixes = prefixModes();
  const [listModes = '', always = '', onSet = ''] = (conn.isupport.CHANMODES || 'beI,k,l,imnst').split(',');
  let adding = true;
  for (const m of modes) {
    if (m === '+' || m === '-') {
      adding = m === '+';
      continue;
    }
    const takesArg = m in prefixes || listModes.includes(m) || always.includes(m) || (adding && onSet.includes(m));
    const arg = takesArg ? args.shift() : undefined;
    if (m in prefixes && arg) {
      const u = win.users.get(ircLower(arg));
      if (!u) continue;
      u.prefixes = adding ? u.prefixes.replace(prefixes[m], '') + prefixes[m] : u.prefixes.replace(prefixes[m], '');
    }
  }
}

// Marks nick away (with the reason, when known) or back in every channel list.
function setAway(nick, away, text) {
  for (const win of usersOf(nick)) {
    const u = win.users.get(ircLower(nick));
    u.away = away;
    u.awayText = away ? text : '';
  }
  renderUsers();
}

function addUser(win, entry) {
  // multi-prefix and userhost-in-names: "@+nick!user@host".
  const order = prefixOrder();
  let i = 0;
  while (i < entry.length && order.includes(entry[i])) i++;
  const nick = entry.slice(i).split('!')[0];
  if (!nick) return;
  const old = win.users.get(ircLower(nick));
  win.users.set(ircLower(nick), { nick, prefixes: entry.slice(0, i), away: old ? old.away : false, awayText: old ? old.awayText : '' });
}

// Numerics shown in the server window rather than where the reader is.
function serverNumeric(code) {
  const n = parseInt(code, 10);
  return n < 100 || (n >= 200 && n < 300) || (n >= 371 && n <= 376) || n === 900 || n === 903;
}

function onMessage(msg) {
  const me = conn.nick;
  const self = ircLower(msg.nick) === ircLower(me);
  const time = msgTime(msg);
  const p = msg.params;
  switch (msg.command) {
    case 'PRIVMSG':
    case 'NOTICE':
      showLive(msg);
      return;
    case 'JOIN': {
      const win = getWin(p[0], 'channel');
      if (self) {
        win.joined = true;
        win.rejoin = true;
        win.users.clear();
        win.whoNeeded = true;
        if (!active || active === serverWin || focusOnJoin === win.key) activate(win);
        if (focusOnJoin === win.key) focusOnJoin = '';
        catchUp(win);
      } else {
        addUser(win, msg.nick);
        joinPart(win, msg.nick, 'joined', time);
      }
      if (win === active) renderUsers();
      renderSidebar();
      return;
    }
    case 'PART': {
      const win = findWin(p[0]);
      if (!win) return;
      if (self) {
        win.rejoin = false;
        closeWin(win);
        return;
      }
      win.users.delete(ircLower(msg.nick));
      joinPart(win, msg.nick, 'left', time, stripFormatting(p[1] || ''));
      if (win === active) renderUsers();
      return;
    }
    case 'QUIT': {
      // Every channel the user was in with us, and the conversation with them. Servers put
      // "Quit: " before a reason the user gave; the line already says "quit".
      const reason = stripFormatting(p[0] || '').replace(/^Quit: /, '');
      for (const win of usersOf(msg.nick)) {
        win.users.delete(ircLower(msg.nick));
        joinPart(win, msg.nick, 'quit', time, reason);
      }
      const query = findWin(msg.nick);
      if (query && query.kind === 'query') joinPart(query, msg.nick, 'quit', time, reason);
      renderUsers();
      return;
    }
    case 'KICK': {
      const win = findWin(p[0]);
      if (!win) return;
      const reason = p[2] && p[2] !== msg.nick ? ` (${stripFormatting(p[2])})` : '';
      if (ircLower(p[1]) === ircLower(me)) {
        // Out of the channel: the window stays, marked as left, until /join or /close.
        win.joined = false;
        win.rejoin = false;
        win.users.clear();
        info(win, `You were kicked out of ${win.name} by ${msg.nick}${reason}. /join ${win.name} to go back.`, time, true);
        noteUnread(win, true);
        renderSidebar();
      } else {
        win.users.delete(ircLower(p[1]));
        info(win, `${p[1]} was kicked out by ${msg.nick}${reason}`, time);
      }
      if (win === active) renderUsers();
      return;
    }
    case 'NICK': {
      // irc.js has already taken the new nick as ours when it is.
      const newNick = p[0];
      const mine = self || ircLower(newNick) === ircLower(me);
      const said = mine ? `You are now known as ${newNick}` : `${msg.nick} is now known as ${newNick}`;
      for (const win of usersOf(msg.nick)) {
        const u = win.users.get(ircLower(msg.nick));
        win.users.delete(ircLower(msg.nick));
        win.users.set(ircLower(newNick), { ...u, nick: newNick });
        info(win, said, time);
      }
      const query = findWin(msg.nick);
      if (query && query.kind === 'query') {
        if (!findWin(newNick)) {
          windows.delete(query.key);
          query.rename(newNick);
          windows.set(query.key, query);
        }
        info(query, said, time);
      }
      if (mine) info(serverWin, said, time);
      renderUsers();
      renderSidebar();
      renderHeader();
      return;
    }
    case 'MODE': {
      const win = isChannel(p[0]) ? findWin(p[0]) : null;
      if (!win) return;
      applyModes(win, msg);
      info(win, `${msg.nick} sets mode ${p.slice(1).join(' ')}`, time);
      if (win === active) renderUsers();
      return;
    }
    case 'TOPIC': {
      const win = findWin(p[0]);
      if (!win) return;
      win.topic = p[1] || '';
      info(win, win.topic ? `${msg.nick} changed the topic to: ${stripFormatting(win.topic)}` : `${msg.nick} cleared the topic`, time);
      if (win === active) renderHeader();
      return;
    }
    case 'AWAY': // away-notify: "AWAY :reason" going, "AWAY" back
      setAway(msg.nick, p.length > 0, stripFormatting(p[0] || ''));
      return;
    case 'INVITE':
      info(active || serverWin, `${msg.nick} invites ${self ? 'you' : p[0]} to ${p[1]}`, time);
      return;
    case 'ERROR':
      info(serverWin, p[0] || 'Disconnected', time, true);
      return;
    case 'REGISTER':
      if (p[0] === 'SUCCESS') info(serverWin, `Account ${p[1]} created: you are logged in`, time);
      return;
    case 'FAIL':
    case 'WARN':
    case 'NOTE': {
      if (p[0] === 'CHATHISTORY') {
        // A request that will get no batch: forget it (its context is "SUB target").
        const win = findWin((p[2] || '').split(' ')[1] || '');
        if (win) {
          win.requests.shift();
          if (win.catchingUp && !win.requests.length) endCatchUp(win);
        }
      }
      info(active || serverWin, `${p[0]}: ${p[p.length - 1]}`, time, msg.command === 'FAIL');
      return;
    }
    case '332': {
      const win = getWin(p[1], 'channel');
      win.topic = p[2] || '';
      if (win === active) renderHeader();
      return;
    }
    case '331': {
      const win = findWin(p[1]);
      if (win) win.topic = '';
      return;
    }
    case '333':
    case '329':
      return;
    case '353': {
      const win = findWin(p[2]);
      if (!win) break;
      if (win.namesDone) win.users.clear();
      win.namesDone = false;
      for (const entry of (p[3] || '').split(' ').filter(Boolean)) addUser(win, entry);
      return;
    }
    case '366': {
      const win = findWin(p[1]);
      if (!win) break;
      win.namesDone = true;
      // NAMES does not say who is away, and away-notify tells only of changes: WHO does, for
      // a channel small enough that asking costs little.
      if (win.whoNeeded && win.users.size <= WHO_USERS_MAX) {
        win.whoPending = true;
        conn.send('WHO', [win.name]);
      }
      win.whoNeeded = false;
      if (win === active) renderUsers();
      return;
    }
    case '305': // we are back
    case '306': // we are away: the server tells others, not us, so our own entry is set here
      setAway(me, msg.command === '306', '');
      info(active || serverWin, p[p.length - 1], time);
      return;
    case '352': { // WHO: the away flag (H here, G gone) of each member, asked for on joining
      const win = findWin(p[1] || '');
      if (!win || !win.whoPending) break;
      const u = win.users.get(ircLower(p[5] || ''));
      if (u) u.away = (p[6] || '').startsWith('G');
      return;
    }
    case '315': {
      const win = findWin(p[1] || '');
      if (!win || !win.whoPending) break;
      win.whoPending = false;
      if (win === active) renderUsers();
      return;
    }
    default:
      break;
  }
  if (/^\d{3}$/.test(msg.command)) {
    const text = p.slice(1).join(' ');
    const n = parseInt(msg.command, 10);
    const error = n >= 400 && n < 600;
    info(serverNumeric(msg.command) ? serverWin : active || serverWin, text, time, error);
    if (msg.command === '005' && conn.isupport.NETWORK && serverWin.name !== conn.isupport.NETWORK) {
      serverWin.rename(conn.isupport.NETWORK);
      renderSidebar();
      renderHeader();
    }
  }
}

// ---- the session ------------------------------------------------------------------------

function resetWindows() {
  for (const win of windows.values()) win.log.remove();
  windows.clear();
  active = null;
  serverWin = getWin('server', 'server');
}

function onRegistered() {
  $('login').hidden = true;
  $('chat').hidden = false;
  if (!active) activate(serverWin);
  // Back after a reconnect: channels again (their JOIN asks for what was missed), and the
  // private conversations' missed lines.
  for (const win of windows.values()) {
    if (win.kind === 'channel' && win.rejoin && !win.joined) conn.send('JOIN', [win.name]);
    if (win.kind === 'query' && win.newest && historyOn()) requestHistory(win, 'after', refOf(win.newest), HISTORY_AFTER);
  }
  $('input').focus();
}

function onStatus({ state, delay }) {
  const status = $('status');
  document.body.classList.toggle('offline', state === 'waiting' || state === 'connecting');
  if (state === 'waiting') {
    for (const win of windows.values()) {
      win.joined = false;
      win.requests = [];
      win.catchingUp = false;
      clearTimeout(win.catchUpTimer);
    }
    status.textContent = `Disconnected; reconnecting in ${Math.ceil(delay / 1000)} s…`;
    renderSidebar();
  } else if (state === 'connecting') {
    status.textContent = conn.everRegistered ? 'Reconnecting…' : '';
  } else {
    status.textContent = '';
  }
}

function onLoginFailed(text) {
  $('chat').hidden = true;
  $('login').hidden = false;
  const error = $('login-error');
  error.textContent = text;
  error.hidden = false;
  $('login-submit').disabled = false;
  $('login-submit').textContent = 'Connect';
  $('login-nick').focus();
}

function onLoginSubmit(ev) {
  ev.preventDefault();
  const nick = $('login-nick').value.trim();
  const password = $('login-password').value;
  const register = $('login-register').checked;
  const error = $('login-error');
  error.hidden = true;
  if (!nick) {
    onLoginFailed('Choose a nick');
    return;
  }
  if (register && !password) {
    onLoginFailed('Choose a password for the new account');
    return;
  }
  try {
    localStorage.setItem('tcpchat.nick', nick);
  } catch {
    // private browsing: nothing remembered, nothing lost
  }
  resetWindows();
  $('login-submit').disabled = true;
  $('login-submit').textContent = 'Connecting…';
  conn.start(nick, password, register);
}

function toggle(which, button) {
  const open = document.body.classList.toggle(which);
  button.setAttribute('aria-expanded', String(open));
  if (open) (document.querySelector(`#${button.getAttribute('aria-controls')} button`) || button).focus();
}

function switchBy(step) {
  const list = orderedWindows();
  const i = list.indexOf(active);
  activate(list[(i + step + list.length) % list.length]);
}

function init() {
  try {
    $('login-nick').value = localStorage.getItem('tcpchat.nick') || '';
  } catch {
    // no storage: the field stays empty
  }
  $('login-form').addEventListener('submit', onLoginSubmit);
  conn.addEventListener('message', (e) => onMessage(e.detail));
  conn.addEventListener('batch', (e) => {
    if (e.detail.type === 'chathistory') onHistory(e.detail);
    else for (const m of e.detail.messages) if (m.command !== 'BATCH') onMessage(m);
  });
  conn.addEventListener('registered', onRegistered);
  conn.addEventListener('status', (e) => onStatus(e.detail));
  conn.addEventListener('loginfailed', (e) => onLoginFailed(e.detail.text));

  const input = $('input');
  const keys = new InputKeys(input, () => (active ? [...active.users.values()].map((u) => u.nick) : []));
  $('input-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    keys.remember(text);
    input.value = '';
    runInput(text, {
      conn,
      active: () => active,
      open: (name) => { const w = getWin(name, isChannel(name) ? 'channel' : 'query'); activate(w); return w; },
      joining: (name) => {
        const w = findWin(name);
        if (w && w.joined) activate(w);
        else focusOnJoin = ircLower(name);
      },
      info: (text, error) => info(active || serverWin, text, new Date(), error),
      close: (win) => closeWin(win),
      isChannel,
      // Without echo-message the server does not send our own lines back: show them here.
      sent: (target, text) => {
        if (conn.caps.has('echo-message')) return;
        onMessage({ command: 'PRIVMSG', prefix: `${conn.nick}!`, nick: conn.nick, params: [target, text], tags: {} });
      },
      quit: (reason) => { conn.stop(reason); onLoginFailed('You left the chat.'); },
    });
  });

  $('toggle-sidebar').addEventListener('click', () => toggle('sidebar-open', $('toggle-sidebar')));
  $('toggle-users').addEventListener('click', () => toggle('users-open', $('toggle-users')));
  // On a phone the lists cover the log; a tap beside them closes them, as Escape does.
  document.addEventListener('click', (ev) => {
    if (!document.body.matches('.sidebar-open, .users-open')) return;
    if (ev.target.closest('#sidebar, #users, #toggle-sidebar, #toggle-users')) return;
    closePanels();
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.altKey && (ev.key === 'ArrowUp' || ev.key === 'ArrowDown')) {
      ev.preventDefault();
      switchBy(ev.key === 'ArrowUp' ? -1 : 1);
    } else if (ev.altKey && /^[1-9]$/.test(ev.key)) {
      ev.preventDefault();
      activate(orderedWindows()[Number(ev.key) - 1]);
    } else if (ev.key === 'Escape' && document.body.matches('.sidebar-open, .users-open')) {
      closePanels();
      input.focus();
    }
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && active) {
      active.unread = 0;
      active.mention = false;
      renderSidebar();
    }
  });
  window.addEventListener('resize', () => active && fillView(active));
}

init();
