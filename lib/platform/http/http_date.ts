/**
 * HTTP-date (RFC 9110 §5.6.7), strictly: the IMF-fixdate a sender generates and the two obsolete
 * formats a recipient must still accept (rfc850-date, asctime-date). Anything else is invalid,
 * which a cache treats as "in the past" (RFC 9111 §5.3), instead of guessing as `Date.parse` does.
 */

const DAYS = "(Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAYS = "(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MONTH = `(${MONTHS.join("|")})`;
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";

/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = new RegExp(`^${DAYS}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** `Sunday, 06-Nov-94 08:49:37 GMT` */
const RFC850 = new RegExp(`^${LONG_DAYS}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** `Sun Nov  6 08:49:37 1994` (a one-digit day is padded with a space) */
const ASCTIME = new RegExp(`^${DAYS} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/** Longest value looked at (an HTTP-date is 29 characters; rfc850 with a long day name 33). */
const MAX_LENGTH = 40;

function build(
  year: number,
  month: string,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number {
  // `second` may be 60 (a leap second, RFC 9110 §5.6.7); it rolls into the next minute.
  if (hour > 23 || minute > 59 || second > 60 || day < 1) return NaN;
  const m = MONTHS.indexOf(month);
  const t = Date.UTC(year, m, day, hour, minute, second);
  // Date.UTC rolls 31 Feb over into March: such a date is not a date.
  return new Date(Date.UTC(year, m, day)).getUTCDate() === day ? t : NaN;
}

/**
 * Parses an HTTP-date into ms since the epoch; `NaN` for anything that is not one of the three
 * formats exactly (case, spacing, comma and two-digit fields included). A two-digit rfc850 year
 * more than 50 years ahead of `now` belongs to the previous century (RFC 9110 §5.6.7).
 */
export function parseHttpDate(value: string | null, now: number = Date.now()): number {
  if (value === null || value.length < 24 || value.length > MAX_LENGTH) return NaN;
  let m = IMF_FIXDATE.exec(value);
  if (m !== null) return build(Number(m[4]), m[3], Number(m[2]), +m[5], +m[6], +m[7]);
  m = ASCTIME.exec(value);
  if (m !== null) return build(Number(m[7]), m[2], Number(m[3].trim()), +m[4], +m[5], +m[6]);
  m = RFC850.exec(value);
  if (m === null) return NaN;
  const thisYear = new Date(now).getUTCFullYear();
  let year = Math.floor(thisYear / 100) * 100 + Number(m[4]);
  if (year > thisYear + 50) year -= 100;
  return build(year, m[3], Number(m[2]), +m[5], +m[6], +m[7]);
}
