import { CronExpressionParser } from 'cron-parser';
import { StratusError } from '../../sdk/core/errors';
import { translateAwsCron } from './aws-cron';

/**
 * Schedule expressions and their ticks, as plain functions. Three forms:
 *
 *   rate(5 minutes)           every 5 minutes from the schedule's creation (units: minute(s),
 *                             hour(s), day(s); second(s) only where the router's minimum
 *                             period allows it)
 *   cron(0 12 ? * MON-FRI *)  EventBridge's six fields: minutes hours day-of-month month
 *                             day-of-week year; '?' in one of the day fields; days 1-7 from Sunday
 *   0 12 * * 1-5              standard five-field cron (days 0-7, 0 and 7 Sunday)
 *
 * Cron forms run in `timezone` (IANA name; default UTC). Parsing and the calendar arithmetic
 * (DST included) are cron-parser's; this module only picks the form and checks the limits.
 */
export type ScheduleExpression =
  | { kind: 'rate'; periodMs: number }
  | { kind: 'cron'; cron: string; years: ReadonlySet<number> | undefined; timezone: string };

/** What limits an expression. */
export interface ExpressionLimits {
  /** Shortest time between two ticks allowed. */
  minPeriodMs: number;
}

const UNITS: Record<string, number> = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 };
/** Safety bound on year jumps while looking for a tick: the year range spans 230 years. */
const MAX_YEAR_JUMPS = 240;

function invalid(text: string, why: string): StratusError {
  return new StratusError('InvalidRequest', `invalid schedule expression '${text}': ${why}`);
}

/** Validates an IANA time zone name; empty means UTC. */
export function validateTimezone(tz: string): string {
  if (!tz) return 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new StratusError('InvalidRequest', `unknown time zone '${tz}': use an IANA name such as Europe/Paris or America/New_York`);
  }
  return tz;
}

function parseRate(text: string, body: string, limits: ExpressionLimits): ScheduleExpression {
  const m = /^\s*(\d+)\s+([a-z]+?)s?\s*$/i.exec(body);
  const unit = m ? UNITS[(m[2] as string).toLowerCase()] : undefined;
  if (!m || unit === undefined) throw invalid(text, 'write rate(<number> <unit>) with unit minute(s), hour(s) or day(s), e.g. rate(5 minutes)');
  const n = Number(m[1]);
  if (n < 1) throw invalid(text, 'the number must be 1 or more');
  const periodMs = n * unit;
  if (periodMs < limits.minPeriodMs) {
    throw invalid(text, `it ticks every ${periodMs / 1000} s, more often than the minimum period of ${limits.minPeriodMs / 1000} s; use a longer rate (routers set the minimum with STRATUS_SCHEDULE_MIN_PERIOD_MS)`);
  }
  return { kind: 'rate', periodMs };
}

function parseCron(text: string, cron: string, years: ReadonlySet<number> | undefined, timezone: string, limits: ExpressionLimits): ScheduleExpression {
  if (/(^|[^A-Za-z])H($|[^A-Za-z])/.test(cron)) throw invalid(text, "'H' (hashed values) is not supported: name the minute");
  try {
    CronExpressionParser.parse(cron, { tz: timezone });
  } catch (err) {
    throw invalid(text, (err as Error).message);
  }
  const expr: ScheduleExpression = { kind: 'cron', cron, years, timezone };
  // The shortest gap among the next few ticks: cron's smallest unit is a minute, but a router may demand more.
  let prev = nextTick(expr, 0, Date.now());
  if (prev === undefined) throw invalid(text, 'it has no upcoming tick');
  for (let i = 0; i < 8; i += 1) {
    const next = nextTick(expr, 0, prev);
    if (next === undefined) break;
    if (next - prev < limits.minPeriodMs) throw invalid(text, `two ticks are ${(next - prev) / 1000} s apart, under the minimum period of ${limits.minPeriodMs / 1000} s`);
    prev = next;
  }
  return expr;
}

/** Parses and validates an expression. `timezone` applies to cron forms only. */
export function parseScheduleExpression(text: string, timezone: string, limits: ExpressionLimits): ScheduleExpression {
  const trimmed = text.trim();
  const wrapped = /^(rate|cron)\((.*)\)$/is.exec(trimmed);
  if (wrapped) {
    const body = wrapped[2] as string;
    if ((wrapped[1] as string).toLowerCase() === 'rate') {
      if (timezone) throw invalid(text, 'a time zone applies to cron expressions only; drop it for a rate');
      return parseRate(text, body, limits);
    }
    const aws = translateAwsCron(body);
    return parseCron(text, aws.cron, aws.years, validateTimezone(timezone), limits);
  }
  if (trimmed.startsWith('@')) {
    if (!/^@(yearly|annually|monthly|weekly|daily|hourly)$/.test(trimmed)) throw invalid(text, 'use @yearly, @monthly, @weekly, @daily or @hourly');
    return parseCron(text, trimmed, undefined, validateTimezone(timezone), limits);
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5) {
    throw invalid(text, `a standard cron line has 5 fields (minute hour day-of-month month day-of-week), this has ${fields.length}; write rate(5 minutes), cron(0 12 * * ? *) or */5 * * * *`);
  }
  return parseCron(text, fields.join(' '), undefined, validateTimezone(timezone), limits);
}

function cronAt(expr: Extract<ScheduleExpression, { kind: 'cron' }>, currentMs: number) {
  return CronExpressionParser.parse(expr.cron, { currentDate: new Date(currentMs), tz: expr.timezone });
}

/** Start of January 1 of `year` in the expression's time zone, epoch ms. */
function startOfYear(expr: Extract<ScheduleExpression, { kind: 'cron' }>, year: number): number {
  const probe = CronExpressionParser.parse('0 0 1 1 *', { currentDate: new Date(Date.UTC(year - 1, 6, 1)), tz: expr.timezone });
  return probe.next().getTime();
}

/**
 * The first tick strictly after `afterMs`, or undefined when there is none. Rate ticks are
 * `anchorMs + k * period` (k ≥ 1): the schedule's creation anchors them, so every router
 * computes the same ticks.
 */
export function nextTick(expr: ScheduleExpression, anchorMs: number, afterMs: number): number | undefined {
  if (expr.kind === 'rate') {
    const k = Math.max(1, Math.floor((afterMs - anchorMs) / expr.periodMs) + 1);
    return anchorMs + k * expr.periodMs;
  }
  let cursor = afterMs;
  for (let jump = 0; jump < MAX_YEAR_JUMPS; jump += 1) {
    let d;
    try {
      d = cronAt(expr, cursor).next();
    } catch {
      return undefined;
    }
    const year = d.getFullYear();
    if (!expr.years || expr.years.has(year)) return d.getTime();
    const later = [...expr.years].filter((y) => y > year);
    if (later.length === 0) return undefined;
    cursor = startOfYear(expr, Math.min(...later)) - 1;
  }
  return undefined;
}

/** The latest tick at or before `atMs` and after the anchor (rate), or undefined when there is none. */
export function latestTick(expr: ScheduleExpression, anchorMs: number, atMs: number): number | undefined {
  if (expr.kind === 'rate') {
    const k = Math.floor((atMs - anchorMs) / expr.periodMs);
    return k >= 1 ? anchorMs + k * expr.periodMs : undefined;
  }
  let cursor = atMs + 1;
  for (let jump = 0; jump < MAX_YEAR_JUMPS; jump += 1) {
    let d;
    try {
      d = cronAt(expr, cursor).prev();
    } catch {
      return undefined;
    }
    const year = d.getFullYear();
    if (!expr.years || expr.years.has(year)) return d.getTime();
    const earlier = [...expr.years].filter((y) => y < year);
    if (earlier.length === 0) return undefined;
    cursor = startOfYear(expr, Math.max(...earlier) + 1);
  }
  return undefined;
}

/** The tick before `tickMs` (to walk backwards), or undefined. */
export function previousTick(expr: ScheduleExpression, anchorMs: number, tickMs: number): number | undefined {
  return latestTick(expr, anchorMs, tickMs - 1);
}
