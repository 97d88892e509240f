import { StratusError } from '../../sdk/core/errors';

/**
 * EventBridge's six-field cron (`minutes hours day-of-month month day-of-week year`) in the terms
 * of cron-parser, which does the parsing: the first five fields become a standard cron line
 * (day-of-week renumbered: EventBridge counts 1-7 from Sunday, cron 0-6), and the year field,
 * which cron-parser lacks, becomes a set of allowed years.
 */
export interface AwsCron {
  /** Five fields for cron-parser. */
  cron: string;
  /** Allowed years; undefined for any. */
  years: ReadonlySet<number> | undefined;
}

const MIN_YEAR = 1970;
const MAX_YEAR = 2199;
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function invalid(expr: string, why: string): StratusError {
  return new StratusError(
    'InvalidRequest',
    `invalid schedule expression 'cron(${expr})': ${why}; EventBridge cron takes six fields: minutes hours day-of-month month day-of-week year, e.g. cron(0 12 * * ? *)`,
  );
}

/** EventBridge day-of-week value (1-7 from Sunday, or a name) as cron-parser's (0-6 or a name). */
function day(expr: string, v: string): string {
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 1 || n > 7) throw invalid(expr, `day-of-week ${v} is out of range: use 1-7 (1 is Sunday) or SUN-SAT`);
    return String(n - 1);
  }
  const name = v.toUpperCase();
  if (!DAYS.includes(name)) throw invalid(expr, `day-of-week '${v}' is not a day: use 1-7 (1 is Sunday) or SUN-SAT`);
  return name;
}

function dayOfWeek(expr: string, field: string): string {
  if (field === '?' || field === '*') return field;
  return field
    .split(',')
    .map((item) => {
      if (item === 'L') throw invalid(expr, "a bare 'L' in day-of-week is not supported: write 7 or SAT, or 6L for the last Friday");
      let m = /^([A-Za-z0-9]+)L$/.exec(item);
      if (m) return `${day(expr, m[1] as string)}L`;
      m = /^([A-Za-z0-9]+)#([1-5])$/.exec(item);
      if (m) return `${day(expr, m[1] as string)}#${m[2]}`;
      m = /^(\*|[A-Za-z0-9]+)(?:-([A-Za-z0-9]+))?(?:\/(\d+))?$/.exec(item);
      if (!m) throw invalid(expr, `day-of-week item '${item}' is not understood`);
      const from = m[1] === '*' ? '*' : day(expr, m[1] as string);
      const to = m[2] === undefined ? '' : `-${day(expr, m[2])}`;
      return `${from}${to}${m[3] === undefined ? '' : `/${m[3]}`}`;
    })
    .join(',');
}

function yearOf(expr: string, v: string): number {
  const n = Number(v);
  if (!/^\d{4}$/.test(v) || n < MIN_YEAR || n > MAX_YEAR) throw invalid(expr, `year '${v}' is out of range: use ${MIN_YEAR}-${MAX_YEAR}`);
  return n;
}

/** The year field as a set; undefined for `*` or `?`. Items: YYYY, YYYY-YYYY, with an optional /step; `*` /step. */
function years(expr: string, field: string): Set<number> | undefined {
  if (field === '*' || field === '?') return undefined;
  const out = new Set<number>();
  for (const item of field.split(',')) {
    const m = /^(\*|\d+)(?:-(\d+))?(?:\/(\d+))?$/.exec(item);
    if (!m) throw invalid(expr, `year item '${item}' is not understood: use 2030, 2030-2035, 2030/2 or *`);
    const from = m[1] === '*' ? MIN_YEAR : yearOf(expr, m[1] as string);
    const to = m[2] !== undefined ? yearOf(expr, m[2]) : m[1] === '*' || m[3] !== undefined ? MAX_YEAR : from;
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (step < 1 || to < from) throw invalid(expr, `year item '${item}' is empty`);
    for (let y = from; y <= to; y += step) out.add(y);
  }
  return out;
}

/** Translates an EventBridge cron body (what stands inside `cron(...)`). */
export function translateAwsCron(expr: string): AwsCron {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 6) throw invalid(expr, `it has ${fields.length} field(s)`);
  const [minute, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) throw invalid(expr, "use '?' in exactly one of day-of-month and day-of-week");
  if (/W/i.test(dom)) throw invalid(expr, "'W' (nearest weekday) is not supported: use a day-of-week range such as MON-FRI");
  for (const f of fields) if (/(^|[^A-Za-z])H($|[^A-Za-z])/.test(f)) throw invalid(expr, "'H' is not EventBridge syntax");
  return { cron: [minute, hour, dom, month, dayOfWeek(expr, dow)].join(' '), years: years(expr, year) };
}
