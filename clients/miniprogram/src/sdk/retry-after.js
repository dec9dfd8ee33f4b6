'use strict';
/**
 * Retry-After (RFC 9110 section 10.2.3): delta-seconds (`1*DIGIT`) or an HTTP-date in any of
 * the three forms a recipient must accept (section 5.6.7: IMF-fixdate, the obsolete RFC 850 form
 * and asctime), turned into a wait in ms. A date is read against the answer's own `Date` header
 * when it has one (both are the server's clock, so a phone's wrong clock does not matter), else
 * against the SDK's clock. The wait is bounded: never negative, at most `maxMs`.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const MON = '(' + MONTHS.join('|') + ')';
const IMF = new RegExp('^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ' + MON + ' (\\d{4}) ' + TIME + ' GMT$');
const RFC850 = new RegExp('^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-' +
  MON + '-(\\d{2}) ' + TIME + ' GMT$');
const ASCTIME = new RegExp('^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ' + MON + ' ([ \\d]\\d) ' + TIME + ' (\\d{4})$');

/**
 * @param {number} year
 * @param {string} month
 * @param {string} day
 * @param {string[]} hms
 * @returns {number | null} ms since the epoch, null for an impossible date
 */
function utc(year, month, day, hms) {
  const d = parseInt(day, 10);
  const [h, m, s] = hms.map((x) => parseInt(x, 10));
  if (d < 1 || d > 31 || h > 23 || m > 59 || s > 60) return null;
  return Date.UTC(year, MONTHS.indexOf(month), d, h, m, Math.min(s, 59));
}

/**
 * An HTTP-date (RFC 9110 5.6.7) in ms since the epoch, or null when `text` is none of its forms.
 * A two-digit RFC 850 year more than 50 years ahead of `now` is the century before.
 * @param {string | null | undefined} text
 * @param {number} now ms, for the two-digit year
 * @returns {number | null}
 */
function parseHttpDate(text, now) {
  if (typeof text !== 'string' || text.length > 64) return null;
  const value = text.trim();
  let m = IMF.exec(value);
  if (m) return utc(parseInt(m[3], 10), m[2], m[1], m.slice(4, 7));
  m = RFC850.exec(value);
  if (m) {
    const thisYear = new Date(now).getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + parseInt(m[3], 10);
    if (year > thisYear + 50) year -= 100;
    return utc(year, m[2], m[1], m.slice(4, 7));
  }
  m = ASCTIME.exec(value);
  if (m) return utc(parseInt(m[6], 10), m[1], m[2].trim(), m.slice(3, 6));
  return null;
}

/**
 * How long Retry-After says to wait, in ms: 0 when absent, junk or already past.
 * @param {string | null | undefined} retryAfter the header's value
 * @param {string | null | undefined} date the same answer's Date header
 * @param {number} now ms, the SDK's clock
 * @param {number} maxMs the bound
 * @returns {number}
 */
function retryAfterMs(retryAfter, date, now, maxMs) {
  if (typeof retryAfter !== 'string') return 0;
  const text = retryAfter.trim();
  let wait;
  if (/^\d+$/.test(text)) {
    // delta-seconds too long for a number is the longest wait (RFC 9111 1.2.2), never none
    const digits = text.replace(/^0+(?=\d)/, '');
    wait = digits.length > 12 ? maxMs : parseInt(digits, 10) * 1000;
  } else {
    const at = parseHttpDate(text, now);
    if (at === null) return 0;
    const serverNow = parseHttpDate(date, now);
    wait = at - (serverNow === null ? now : serverNow);
  }
  return Math.max(0, Math.min(maxMs, wait));
}

module.exports = { parseHttpDate, retryAfterMs };
