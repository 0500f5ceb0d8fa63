// irc: IRC lines (with IRCv3 message tags) to objects and back, and the connection to
// tcpchatd's WebSocket at /irc: capability negotiation, SASL PLAIN or REGISTER, batches,
// keep-alive, and reconnecting with backoff. It knows nothing about the page (app.js does).
import { ircLower } from './text.js';

// IRCv3 message-tags: the escapes a tag value may carry.
const TAG_UNESCAPE = { ':': ';', s: ' ', '\\': '\\', r: '\r', n: '\n' };

function unescapeTag(value) {
  return value.replace(/\\(.?)/g, (_, c) => (c in TAG_UNESCAPE ? TAG_UNESCAPE[c] : c));
}

function escapeTag(value) {
  return value.replace(/[\\; \r\n]/g, (c) =>
    ({ '\\': '\\\\', ';': '\\:', ' ': '\\s', '\r': '\\r', '\n': '\\n' })[c]);
}

// "@tags :prefix COMMAND params :trailing" → { tags, prefix, nick, command, params }.
export function parseLine(line) {
  const msg = { tags: {}, prefix: '', nick: '', command: '', params: [] };
  let rest = line.replace(/[\r\n]+$/, '');
  if (rest.startsWith('@')) {
    const sp = rest.indexOf(' ');
    const raw = sp < 0 ? rest.slice(1) : rest.slice(1, sp);
    rest = sp < 0 ? '' : rest.slice(sp + 1);
    for (const tag of raw.split(';')) {
      if (!tag) continue;
      const eq = tag.indexOf('=');
      if (eq < 0) msg.tags[tag] = '';
      else msg.tags[tag.slice(0, eq)] = unescapeTag(tag.slice(eq + 1));
    }
  }
  rest = rest.replace(/^ +/, '');
  if (rest.startsWith(':')) {
    const sp = rest.indexOf(' ');
    msg.prefix = sp < 0 ? rest.slice(1) : rest.slice(1, sp);
    rest = sp < 0 ? '' : rest.slice(sp + 1);
    msg.nick = msg.prefix.split('!')[0];
  }
  const words = [];
  for (;;) {
    rest = rest.replace(/^ +/, '');
    if (!rest) break;
    if (rest.startsWith(':') && words.length) {
      words.push(rest.slice(1));
      break;
    }
    const sp = rest.indexOf(' ');
    words.push(sp < 0 ? rest : rest.slice(0, sp));
    rest = sp < 0 ? '' : rest.slice(sp + 1);
  }
  msg.command = (words.shift() || '').toUpperCase();
  msg.params = words;
  return msg;
}

// The opposite: params after the first become the trailing one when they need to be.
export function buildLine(command, params = [], tags = {}) {
  let line = '';
  const tagText = Object.entries(tags)
    .map(([k, v]) => (v === '' || v === true ? k : `${k}=${escapeTag(String(v))}`))
    .join(';');
  if (tagText) line += `@${tagText} `;
  line += command;
  params.forEach((p, i) => {
    const s = String(p).replace(/[\r\n\0]/g, ' ');
    const last = i === params.length - 1;
    if (last && (s === '' || s.includes(' ') || s.startsWith(':'))) line += ` :${s}`;
    else line += ` ${s}`;
  });
  return line;
}

// base64 of UTF-8 bytes: btoa alone takes Latin-1 only and throws on other characters.
export function base64Utf8(text) {
  let binary = '';
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b);
  return btoa(binary);
}

// What the client asks for when the server offers it (CAP LS 302).
export const WANTED_CAPS = [
  'server-time', 'message-tags', 'echo-message', 'batch', 'labeled-response',
  'draft/chathistory', 'multi-prefix', 'away-notify', 'account-tag', 'extended-join',
  'userhost-in-names', 'sasl', 'draft/account-registration', 'invite-notify',
  'standard-replies',
];

// IRCv3 sasl 3.1: AUTHENTICATE carries at most 400 bytes of base64 per line.
const SASL_CHUNK = 400;
// Reconnect backoff: 1 s doubling up to 30 s, each wait shortened by up to a third at random
// so that many clients dropped at once do not all come back in the same second.
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30000;
// Keep-alive: a PING after this much silence, and the socket counts as dead when the answer
// has not come after as long again (a phone that slept, a NAT that forgot us).
const IDLE_PING_MS = 60000;

// Numerics and FAILs that end a login attempt, with the words shown in the form.
const LOGIN_ERRORS = {
  432: 'That nick is not allowed',
  433: 'That nick is already in use',
  436: 'That nick is already in use',
  464: 'The server wants a password',
  465: 'You are banned from this server',
  902: 'That account is not available',
  904: 'Wrong nick or password',
  905: 'Wrong nick or password',
  906: 'Login was aborted',
};

/*
 * Connection: one logical IRC session that outlives its WebSockets. Events (EventTarget):
 *   'message'  detail: a parsed line (not part of a batch)
 *   'batch'    detail: { type, params, tags, messages } once a batch has ended
 *   'registered'  after 001 (again after each reconnect)
 *   'loginfailed' detail: { text } — the session is over, the form should show it
 *   'status'   detail: { state: 'connecting'|'connected'|'waiting'|'closed', delay }
 */
export class Connection extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.caps = new Set();
    this.isupport = {};
    this.nick = '';
    this.wantedNick = '';
    this.password = '';
    this.registerAccount = false;
    this.registered = false; // 001 seen on this socket
    this.everRegistered = false; // 001 seen on some socket: a reconnect re-logs in silently
    this.stopped = true;
    this.backoff = BACKOFF_FIRST_MS;
    this.retryTimer = 0;
    this.pingTimer = 0;
    this.lastInput = 0;
    this.batches = new Map();
    this.lastError = ''; // the server's last ERROR line, for the form if we never got in
    this.offered = []; // CAP LS lines so far (302 splits a long list with "*")
    this.pendingReq = false; // CAP REQ sent, its ACK/NAK not yet in
  }

  // Starts a session. registerAccount: REGISTER the nick with the password after 001.
  start(nick, password, registerAccount) {
    this.wantedNick = nick;
    this.nick = nick;
    this.password = password;
    this.registerAccount = registerAccount;
    this.everRegistered = false;
    this.lastError = '';
    this.stopped = false;
    this.backoff = BACKOFF_FIRST_MS;
    this.open();
  }

  // Ends the session for good: no reconnect.
  stop(reason) {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws && this.ws.readyState === WebSocket.OPEN && reason !== undefined)
      this.send('QUIT', [reason]);
    this.closeSocket();
    this.status('closed');
  }

  send(command, params = [], tags = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(buildLine(command, params, tags));
    return true;
  }

  sendRaw(line) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(line.replace(/[\r\n]/g, ' '));
    return true;
  }

  get connected() {
    return this.registered && this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  status(state, delay = 0) {
    this.dispatchEvent(new CustomEvent('status', { detail: { state, delay } }));
  }

  open() {
    this.closeSocket();
    this.registered = false;
    this.caps = new Set();
    this.offered = [];
    this.pendingReq = false;
    this.batches.clear();
    this.status('connecting');
    const ws = new WebSocket(this.url, ['text.ircv3.net']);
    this.ws = ws;
    ws.onopen = () => {
      this.lastInput = Date.now();
      this.send('CAP', ['LS', '302']);
      this.send('NICK', [this.nick]);
      this.send('USER', [this.wantedNick.slice(0, 10), '0', '*', this.wantedNick]);
      this.pingTimer = setInterval(() => this.keepAlive(), IDLE_PING_MS / 2);
    };
    ws.onmessage = (ev) => {
      this.lastInput = Date.now();
      if (typeof ev.data === 'string') this.receive(parseLine(ev.data));
    };
    ws.onclose = () => {
      if (this.ws !== ws) return; // an older socket, already replaced
      this.closeSocket();
      this.scheduleReconnect();
    };
  }

  closeSocket() {
    clearInterval(this.pingTimer);
    if (!this.ws) return;
    const ws = this.ws;
    this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = null;
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
  }

  keepAlive() {
    const idle = Date.now() - this.lastInput;
    if (idle > IDLE_PING_MS * 2) {
      this.closeSocket();
      this.scheduleReconnect();
    } else if (idle > IDLE_PING_MS) {
      this.send('PING', ['keepalive']);
    }
  }

  scheduleReconnect() {
    this.registered = false;
    if (this.stopped) return;
    if (!this.everRegistered) {
      // Never got in: nothing to come back to; say so in the form.
      this.fail(this.lastError || 'Could not connect to the server');
      return;
    }
    const delay = Math.round(this.backoff * (1 - Math.random() / 3));
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
    this.status('waiting', delay);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  // The login did not work: the session ends and the form says why.
  fail(text) {
    this.stopped = true;
    this.closeSocket();
    this.dispatchEvent(new CustomEvent('loginfailed', { detail: { text } }));
  }

  receive(msg) {
    switch (msg.command) {
      case 'PING':
        this.send('PONG', msg.params);
        return;
      case 'CAP':
        this.onCap(msg);
        return;
      case 'AUTHENTICATE':
        if (msg.params[0] === '+') this.sendSaslPlain();
        return;
      case 'ERROR':
        this.lastError = msg.params[0] || 'Disconnected';
        break;
      case '001':
        this.registered = true;
        this.everRegistered = true;
        this.nick = msg.params[0];
        this.backoff = BACKOFF_FIRST_MS;
        this.status('connected');
        this.dispatchEvent(new CustomEvent('registered'));
        if (this.registerAccount && this.password) this.send('REGISTER', ['*', '*', this.password]);
        break;
      case '005':
        for (const tok of msg.params.slice(1, -1)) {
          const eq = tok.indexOf('=');
          if (eq < 0) this.isupport[tok.toUpperCase()] = true;
          else this.isupport[tok.slice(0, eq).toUpperCase()] = tok.slice(eq + 1);
        }
        break;
      case '903': // SASL success: registration may end
        if (!this.registered) this.send('CAP', ['END']);
        break;
      case 'NICK':
        if (ircLower(msg.nick) === ircLower(this.nick)) this.nick = msg.params[0];
        break;
      case 'BATCH':
        this.onBatch(msg);
        return;
      case 'REGISTER': // REGISTER SUCCESS: the account exists; later reconnects use SASL
        if (msg.params[0] === 'SUCCESS') this.registerAccount = false;
        break;
      case 'FAIL':
        if (msg.params[0] === 'REGISTER' && this.registerAccount) {
          this.send('QUIT', ['Account not created']);
          this.fail(`Could not create the account: ${msg.params.slice(-1)[0]}`);
          return;
        }
        break;
      default:
        break;
    }
    if (!this.registered && this.loginError(msg)) return;
    if (msg.tags.batch && this.batches.has(msg.tags.batch)) {
      this.batches.get(msg.tags.batch).messages.push(msg);
      return;
    }
    this.dispatchEvent(new CustomEvent('message', { detail: msg }));
  }

  // Before 001: errors that end the attempt. A reconnect (the user had got in before) tries
  // another nick instead when its nick is still taken, e.g. by its own ghost.
  loginError(msg) {
    if ((msg.command === '433' || msg.command === '436') && this.everRegistered) {
      this.nick = `${this.nick.slice(0, 28)}_`;
      this.send('NICK', [this.nick]);
      return true;
    }
    if (msg.command in LOGIN_ERRORS) {
      // The server's own words when they say more than the usual text (e.g. "registered to
      // an account; log in with SASL").
      const text = msg.params.slice(-1)[0] || '';
      const usual = /^(Nickname is already in use|SASL authentication failed)$/.test(text);
      this.fail(usual ? LOGIN_ERRORS[msg.command] : `${LOGIN_ERRORS[msg.command]}: ${text}`);
      return true;
    }
    if (msg.command === 'FAIL' && !this.everRegistered) {
      this.fail(msg.params.slice(-1)[0]);
      return true;
    }
    return false;
  }

  onCap(msg) {
    const sub = (msg.params[1] || '').toUpperCase();
    if (sub === 'LS') {
      // CAP * LS * :first part — more lines follow (302 multiline).
      const more = msg.params[2] === '*';
      const list = msg.params[more ? 3 : 2] || '';
      this.offered = this.offered.concat(list.split(' ').filter(Boolean));
      if (more) return;
      const names = new Set(this.offered.map((c) => c.split('=')[0]));
      this.offered = [];
      const want = WANTED_CAPS.filter((c) => names.has(c));
      if (want.length) this.send('CAP', ['REQ', want.join(' ')]);
      else this.send('CAP', ['END']);
      this.pendingReq = want.length > 0;
    } else if (sub === 'ACK') {
      for (const c of (msg.params[2] || '').split(' ').filter(Boolean)) {
        if (c.startsWith('-')) this.caps.delete(c.slice(1));
        else this.caps.add(c);
      }
      this.endCapNegotiation();
    } else if (sub === 'NAK') {
      this.endCapNegotiation();
    } else if (sub === 'DEL') {
      for (const c of (msg.params[2] || '').split(' ')) this.caps.delete(c);
    }
  }

  endCapNegotiation() {
    if (!this.pendingReq || this.registered) return;
    this.pendingReq = false;
    if (this.password && !this.registerAccount && this.caps.has('sasl')) {
      this.send('AUTHENTICATE', ['PLAIN']);
    } else if (this.password && !this.registerAccount) {
      this.fail('This server does not offer SASL logins');
    } else {
      this.send('CAP', ['END']);
    }
  }

  // PLAIN: "authzid \0 authcid \0 password", authzid empty, in chunks of 400.
  sendSaslPlain() {
    const data = base64Utf8(`\0${this.wantedNick}\0${this.password}`);
    for (let i = 0; i < data.length; i += SASL_CHUNK) this.send('AUTHENTICATE', [data.slice(i, i + SASL_CHUNK)]);
    if (data.length % SASL_CHUNK === 0) this.send('AUTHENTICATE', ['+']);
  }

  // Batches are handed over whole, once they end; nested ones go into their parent.
  onBatch(msg) {
    const ref = msg.params[0] || '';
    if (ref.startsWith('+')) {
      const batch = { type: msg.params[1] || '', params: msg.params.slice(2), tags: msg.tags, messages: [] };
      this.batches.set(ref.slice(1), batch);
      return;
    }
    const id = ref.slice(1);
    const batch = this.batches.get(id);
    if (!batch) return;
    this.batches.delete(id);
    const parent = batch.tags.batch && this.batches.get(batch.tags.batch);
    if (parent) {
      parent.messages.push({ command: 'BATCH', batch, tags: batch.tags, params: [] });
      return;
    }
    this.dispatchEvent(new CustomEvent('batch', { detail: batch }));
  }
}
