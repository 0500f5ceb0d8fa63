// text: message text to DOM nodes. Everything a server or another user wrote goes through
// here, and only as text nodes: the one element made from it is <a>, for http(s) links,
// with an href checked after parsing (never innerHTML).

// mIRC formatting: bold, colour (with its digits), hex colour, italics, strike, underline,
// monospace, reverse, reset. Shown as plain text.
const FORMATTING = /\x03(\d{1,2}(,\d{1,2})?)?|\x04([0-9a-fA-F]{6}(,[0-9a-fA-F]{6})?)?|[\x02\x0f\x11\x16\x1d\x1e\x1f]/g;

export function stripFormatting(text) {
  return text.replace(FORMATTING, '');
}

// Candidate links; trailing punctuation is usually the sentence's, not the URL's.
const URL_RE = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;

// The link's target, or null when it is not a well-formed http(s) URL.
export function safeHref(candidate) {
  try {
    const url = new URL(candidate);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

// Appends text to parent as text nodes and <a> links.
export function appendText(parent, text) {
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let url = m[0];
    const trail = url.match(TRAILING);
    // Keep a closing bracket that closes one inside the URL (wikipedia-style links).
    if (trail && !(trail[0] === ')' && url.includes('('))) url = url.slice(0, -trail[0].length);
    const href = safeHref(url);
    if (!href) continue;
    if (m.index > last) parent.append(document.createTextNode(text.slice(last, m.index)));
    const a = document.createElement('a');
    a.href = href;
    a.textContent = url;
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    parent.append(a);
    last = m.index + url.length;
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
}

// Nick colours: a stable hash of the lowercased nick picks one of NICK_COLOURS classes
// (style.css defines nick-c0 … nick-c11 for light and dark themes).
export const NICK_COLOURS = 12;

export function nickClass(nick) {
  // FNV-1a: similar nicks ("bob", "bob_") still land far apart.
  let h = 0x811c9dc5;
  for (const ch of ircLower(nick)) h = Math.imul(h ^ ch.codePointAt(0), 0x01000193) >>> 0;
  return `nick-c${h % NICK_COLOURS}`;
}

// Does text mention nick as a word (not inside another word)?
export function mentions(text, nick) {
  if (!nick) return false;
  const escaped = nick.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^\\w\\-\\[\\]\\\\\`^{}|])${escaped}($|[^\\w\\-\\[\\]\\\\\`^{}|])`, 'i').test(text);
}

export function formatTime(date) {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
}

// IRC case mapping (rfc1459): {}|^ are the lower case of []\~.
export function ircLower(name) {
  return name.toLowerCase().replace(/[[\]\\~]/g, (c) => ({ '[': '{', ']': '}', '\\': '|', '~': '^' })[c]);
}
