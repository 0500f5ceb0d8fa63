// commands: what the user types. /commands become IRC commands (an unknown one is sent as
// it is: "/whois x" is WHOIS x), anything else is a message to the window shown. InputKeys
// gives the input line its history (Up/Down) and nick completion (Tab).

export const HELP = [
  '/join #channel [key] — join a channel',
  '/part [#channel] [reason] — leave this or another channel',
  '/msg nick text — a private message (opens a conversation)',
  '/query nick — open a conversation',
  '/me action — say what you do',
  '/nick newnick — change your nick',
  '/topic [text] — show or set the channel topic',
  '/away [reason] — mark yourself away; /away alone comes back',
  '/close — close this conversation (parts a channel)',
  '/quit [reason] — leave the chat',
  'Any other /command is sent to the server as it is, e.g. /whois nick.',
  'Keys: Alt+Up/Down or Alt+1…9 switch windows, Tab completes nicks, Up/Down recall lines.',
];

// IRC lines carry at most 512 bytes; a long message is sent in pieces that fit, with room
// for the prefix the server puts in front.
const TEXT_BYTES_MAX = 400;

function splitText(text) {
  const out = [];
  const enc = new TextEncoder();
  let piece = '';
  for (const ch of text) {
    if (enc.encode(piece + ch).length > TEXT_BYTES_MAX) {
      out.push(piece);
      piece = '';
    }
    piece += ch;
  }
  if (piece) out.push(piece);
  return out;
}

function say(ctx, target, text) {
  for (const piece of splitText(text)) {
    ctx.conn.send('PRIVMSG', [target, piece]);
    ctx.sent(target, piece);
  }
}

// ctx: { conn, active(), open(name), joining(name), info(text, error), close(win), isChannel,
// quit(reason), sent(target, text) (a PRIVMSG went out) }.
export function runInput(text, ctx) {
  const win = ctx.active();
  if (!ctx.conn.connected) {
    ctx.info('Not connected: the line was not sent.', true);
    return;
  }
  if (!text.startsWith('/') || text.startsWith('//')) {
    const body = text.startsWith('//') ? text.slice(1) : text;
    if (!win || win.kind === 'server') ctx.info('This window is the server’s: type /help for commands.', true);
    else if (win.kind === 'channel' && !win.joined) ctx.info(`You are not in ${win.name}: /join ${win.name} to go back.`, true);
    else say(ctx, win.name, body);
    return;
  }
  const sp = text.indexOf(' ');
  const cmd = (sp < 0 ? text.slice(1) : text.slice(1, sp)).toLowerCase();
  const rest = sp < 0 ? '' : text.slice(sp + 1);
  const words = rest.split(' ').filter(Boolean);
  const here = win && win.kind !== 'server' ? win.name : '';
  const send = (command, params) => ctx.conn.send(command, params);
  switch (cmd) {
    case 'join':
    case 'j':
      if (!words[0]) return ctx.info('Usage: /join #channel', true);
      ctx.joining(ctx.isChannel(words[0]) ? words[0] : `#${words[0]}`);
      return send('JOIN', [ctx.isChannel(words[0]) ? words[0] : `#${words[0]}`, ...words.slice(1, 2)]);
    case 'part':
    case 'leave': {
      const named = words[0] && ctx.isChannel(words[0]);
      const channel = named ? words[0] : here;
      if (!channel || !ctx.isChannel(channel)) return ctx.info('Usage: /part [#channel] [reason]', true);
      const reason = named ? rest.slice(rest.indexOf(words[0]) + words[0].length).trim() : rest.trim();
      return send('PART', reason ? [channel, reason] : [channel]);
    }
    case 'close':
      if (win && win.kind === 'channel' && win.joined) return send('PART', [win.name]);
      return win && ctx.close(win);
    case 'msg':
    case 'query': {
      if (!words[0]) return ctx.info(`Usage: /${cmd} nick${cmd === 'msg' ? ' text' : ''}`, true);
      const body = rest.slice(rest.indexOf(words[0]) + words[0].length + 1);
      if (!ctx.isChannel(words[0])) ctx.open(words[0]);
      if (body) say(ctx, words[0], body);
      return undefined;
    }
    case 'me':
      if (!here) return ctx.info('/me needs a channel or conversation', true);
      send('PRIVMSG', [here, `\x01ACTION ${rest}\x01`]);
      return ctx.sent(here, `\x01ACTION ${rest}\x01`);
    case 'nick':
      if (!words[0]) return ctx.info('Usage: /nick newnick', true);
      return send('NICK', [words[0]]);
    case 'topic':
      if (!here || !ctx.isChannel(here)) return ctx.info('/topic works in a channel', true);
      return send('TOPIC', rest ? [here, rest] : [here]);
    case 'away':
      return send('AWAY', rest ? [rest] : []);
    case 'quit':
      return ctx.quit(rest || 'Leaving');
    case 'help':
      for (const line of HELP) ctx.info(line);
      return undefined;
    default:
      // Unknown to the client: the server may know it (WHOIS, LIST, MODE, INVITE, …).
      ctx.conn.sendRaw(`${cmd.toUpperCase()}${rest ? ` ${rest}` : ''}`);
      return undefined;
  }
}

// Up/Down walk the lines sent before; Tab completes the nick being typed, again for the next.
export class InputKeys {
  constructor(input, nicks) {
    this.input = input;
    this.nicks = nicks;
    this.history = [];
    this.pos = 0; // history.length: the line being typed
    this.draft = '';
    this.completion = null; // { start, matches, i } while Tab is pressed repeatedly
    input.addEventListener('keydown', (ev) => this.onKey(ev));
    input.addEventListener('input', () => { this.completion = null; });
  }

  remember(line) {
    if (this.history[this.history.length - 1] !== line) this.history.push(line);
    if (this.history.length > 100) this.history.shift();
    this.pos = this.history.length;
    this.draft = '';
  }

  onKey(ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.key === 'Tab' && !ev.shiftKey) {
      if (this.complete()) ev.preventDefault();
    } else if (ev.key === 'ArrowUp' && this.pos > 0) {
      ev.preventDefault();
      if (this.pos === this.history.length) this.draft = this.input.value;
      this.pos--;
      this.input.value = this.history[this.pos];
    } else if (ev.key === 'ArrowDown' && this.pos < this.history.length) {
      ev.preventDefault();
      this.pos++;
      this.input.value = this.pos === this.history.length ? this.draft : this.history[this.pos];
    }
  }

  complete() {
    const input = this.input;
    if (!this.completion) {
      const caret = input.selectionStart;
      const start = input.value.lastIndexOf(' ', caret - 1) + 1;
      const word = input.value.slice(start, caret).toLowerCase();
      if (!word) return false;
      const matches = this.nicks().filter((n) => n.toLowerCase().startsWith(word)).sort();
      if (!matches.length) return false;
      this.completion = { start, end: caret, matches, i: -1 };
    }
    const c = this.completion;
    c.i = (c.i + 1) % c.matches.length;
    // At the start of the line the nick is whom one speaks to: "nick: ".
    const insert = c.matches[c.i] + (c.start === 0 ? ': ' : ' ');
    input.value = input.value.slice(0, c.start) + insert + input.value.slice(c.end);
    c.end = c.start + insert.length;
    input.setSelectionRange(c.end, c.end);
    return true;
  }
}
