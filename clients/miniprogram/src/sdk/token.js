'use strict';
/**
 * The user a token names, read (not verified: the server verifies) from the JWT's `sub` claim,
 * so stored layouts and events are keyed by user and one user's copy never shows for another.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * @param {string} text base64url (or base64) text
 * @returns {string} the UTF-8 text it encodes
 */
function base64UrlDecode(text) {
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (let i = 0; i < text.length; i++) {
    const index = ALPHABET.indexOf(text[i] === '+' ? '-' : text[i] === '/' ? '_' : text[i]);
    if (index < 0) continue; // padding or junk
    value = (value << 6) | index;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((value >> bits) & 0xff);
    }
  }
  // UTF-8 decode
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b < 0x80) out += String.fromCharCode(b);
    else if (b < 0xe0) out += String.fromCharCode(((b & 0x1f) << 6) | (bytes[++i] & 0x3f));
    else if (b < 0xf0) {
      out += String.fromCharCode(((b & 0x0f) << 12) | ((bytes[++i] & 0x3f) << 6) | (bytes[++i] & 0x3f));
    } else {
      let cp = ((b & 0x07) << 18) | ((bytes[++i] & 0x3f) << 12) | ((bytes[++i] & 0x3f) << 6) | (bytes[++i] & 0x3f);
      cp -= 0x10000;
      out += String.fromCharCode(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    }
  }
  return out;
}

/**
 * The `sub` claim of a JWT, or "" for no token or one that cannot be read (anonymous).
 * @param {string | null | undefined} token
 * @returns {string}
 */
function subjectOf(token) {
  if (!token || typeof token !== 'string') return '';
  const parts = token.split('.');
  if (parts.length !== 3) return '';
  try {
    const claims = JSON.parse(base64UrlDecode(parts[1]));
    return typeof claims.sub === 'string' ? claims.sub : '';
  } catch (e) {
    return '';
  }
}

module.exports = { subjectOf, base64UrlDecode };
