// windows: the client's windows (the server's, channels, private conversations) and what
// each shows: its message log, built line by line from DOM nodes (text.js renders the text),
// with joins, parts and quits in a row folded into one line.
import { appendText, formatTime, ircLower, nickClass } from './text.js';

// A log this close to its bottom follows new lines; closer than this to its top asks for
// older history.
export const STICK_PX = 40;

// The joins/parts/quits behind each folded line.
const folds = new WeakMap();

export class Win {
  constructor(name, kind) {
    this.name = name;
    this.kind = kind; // 'server' | 'channel' | 'query'
    this.key = kind === 'server' ? '*' : ircLower(name);
    this.users = new Map(); // ircLower(nick) → { nick, prefixes, away, awayText }
    this.topic = '';
    this.unread = 0;
    this.mention = false;
    this.joined = false; // a channel we are in now
    this.rejoin = false; // a channel to join again after a reconnect
    this.namesDone = true; // false while a 353 list comes in
    this.whoNeeded = false; // joined: WHO once the nick list is in, for who is away
    this.whoPending = false; // that WHO sent: its replies are not shown
    this.msgids = new Set(); // every msgid shown, so that no message shows twice
    this.oldest = null; // { msgid, time } of the oldest message shown, for BEFORE
    this.newest = null; // … and of the newest, for AFTER on a reconnect
    this.historyDone = false; // BEFORE came back empty: nothing older exists
    this.requests = []; // CHATHISTORY requests sent, in order: { kind, limit }
    this.catchingUp = false; // live lines wait in `held` until the history is in
    this.held = [];
    this.stick = true;
    this.log = document.createElement('div');
    this.log.className = 'log';
    this.log.setAttribute('role', 'log');
    this.log.setAttribute('aria-label', `Messages in ${name}`);
    this.log.tabIndex = 0;
    this.log.hidden = true;
    this.log.dataset.window = kind === 'server' ? '*' : name;
  }

  // A nick change renames a conversation; the server window keeps its key '*'.
  rename(name) {
    this.name = name;
    if (this.kind !== 'server') {
      this.key = ircLower(name);
      this.log.dataset.window = name;
    }
    this.log.setAttribute('aria-label', `Messages in ${name}`);
  }

  nearBottom() {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < STICK_PX;
  }

  scrollToBottom() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  // Adds line elements at the end, following them when the reader was at the bottom.
  append(...lines) {
    this.log.append(...lines);
    if (this.stick && !this.log.hidden) this.scrollToBottom();
  }

  // Adds older lines at the top without moving what the reader is looking at.
  prepend(fragment) {
    const fromBottom = this.log.scrollHeight - this.log.scrollTop;
    this.log.prepend(fragment);
    this.log.scrollTop = this.log.scrollHeight - fromBottom;
  }

  // Notes a message's msgid and time; false when it is already shown.
  remember(msgid, time, where) {
    if (msgid) {
      if (this.msgids.has(msgid)) return false;
      this.msgids.add(msgid);
    }
    const ref = { msgid, time };
    if (where !== 'prepend' && (!this.newest || time >= this.newest.time)) this.newest = ref;
    if (!this.oldest || where === 'prepend') {
      if (!this.oldest || time <= this.oldest.time) this.oldest = ref;
    }
    return true;
  }

  // The users in the order of the nick list: the highest prefix first, then by name.
  sortedUsers(prefixOrder) {
    const rank = (u) => {
      const ranks = [...u.prefixes].map((p) => prefixOrder.indexOf(p)).filter((i) => i >= 0);
      return ranks.length ? Math.min(...ranks) : prefixOrder.length;
    };
    return [...this.users.values()].sort(
      (a, b) => rank(a) - rank(b) || ircLower(a.nick).localeCompare(ircLower(b.nick)));
  }
}

function timeElement(time) {
  const el = document.createElement('time');
  el.className = 'time';
  el.dateTime = time.toISOString();
  el.title = time.toLocaleString();
  el.textContent = formatTime(time);
  return el;
}

function lineElement(classes, time) {
  const el = document.createElement('div');
  el.className = `line ${classes}`;
  el.dataset.time = String(time.getTime());
  el.append(timeElement(time));
  return el;
}

function nickElement(nick) {
  const el = document.createElement('span');
  el.className = `nick ${nickClass(nick)}`;
  el.textContent = nick;
  return el;
}

// A PRIVMSG or NOTICE: kind is 'message', 'action' or 'notice'.
export function messageLine({ nick, text, time, kind, msgid, self, mention }) {
  const el = lineElement(`msg ${kind}${self ? ' self' : ''}${mention ? ' mention' : ''}`, time);
  if (msgid) el.dataset.msgid = msgid;
  const who = nickElement(nick);
  who.classList.add('sender');
  if (kind === 'action') {
    const star = document.createElement('span');
    star.className = 'action-mark';
    star.textContent = '* ';
    el.append(star, who, document.createTextNode(' '));
  } else if (kind === 'notice') {
    el.append(document.createTextNode('-'), who, document.createTextNode('- '));
  } else {
    el.append(who, document.createTextNode(' '));
  }
  const body = document.createElement('span');
  body.className = 'text';
  appendText(body, text);
  el.append(body);
  return el;
}

// Anything else worth a line: nick changes, kicks, topics, server replies. The text is still
// text; error marks a reply that says something failed.
// kind: '' or 'ctcp' (a CTCP request or reply: a smaller status line).
export function infoLine(text, time, error = false, kind = '') {
  const el = lineElement(`info${error ? ' error' : ''}${kind ? ` ${kind}` : ''}`, time);
  const body = document.createElement('span');
  body.className = 'text';
  appendText(body, text);
  el.append(body);
  return el;
}

// "bob joined", "carol left (bye)", "bob, dave quit": a reason shows when one person did
// that; with several, the line's title lists them all.
const FOLD_ORDER = ['joined', 'left', 'quit'];

function foldText(fold) {
  const parts = [];
  for (const how of FOLD_ORDER) {
    const nicks = fold[how];
    if (!nicks.length) continue;
    const reason = nicks.length === 1 && fold.reasons.get(`${how} ${nicks[0]}`);
    parts.push(`${nicks.join(', ')} ${how}${reason ? ` (${reason})` : ''}`);
  }
  return parts.join('; ');
}

// A join, part or quit (how: 'joined', 'left' or 'quit'), folded into the line before it when
// that is one of these too. parent: the log, or a fragment of history being built.
export function addEvent(parent, nick, how, time, reason) {
  let el = parent.lastElementChild;
  let fold = el && folds.get(el);
  if (!fold) {
    el = lineElement('events', time);
    const body = document.createElement('span');
    body.className = 'text';
    el.append(body);
    // reasons: "how nick" → the reason given; titles: "nick how: reason" for the title.
    fold = { joined: [], left: [], quit: [], reasons: new Map(), titles: [] };
    folds.set(el, fold);
    parent.append(el);
  }
  const list = fold[how];
  if (!list.includes(nick)) list.push(nick);
  if (reason) {
    fold.reasons.set(`${how} ${nick}`, reason);
    fold.titles.push(`${nick} ${how}: ${reason}`);
  }
  el.querySelector('.text').textContent = foldText(fold);
  el.title = fold.titles.join('\n');
  return el;
}
