import { isDeepStrictEqual } from 'node:util';
import { StratusError } from '../../sdk/core/errors';

/**
 * Trigger filters: which events of a subscription run the function. A filter is one condition
 * or a list of conditions that must all hold. A condition names a `path` into the event's JSON
 * data (dot-separated; a numeric token indexes an array) and exactly one test:
 *
 *   {"path":"type","equals":"created"}        the value equals this JSON value (deep equality)
 *   {"path":"type","in":["created","paid"]}   the value equals one of these
 *   {"path":"order.id","exists":true}         the path is present (false: absent)
 *   {"path":"region","prefix":"eu-"}          the value is a string starting with this
 *
 * Data that is not JSON has no paths: only `exists: false` holds for it.
 */

/** One test on one path of the event's data. */
export type FilterCondition =
  | { path: string; equals: unknown }
  | { path: string; in: unknown[] }
  | { path: string; exists: boolean }
  | { path: string; prefix: string };

/** All conditions must hold. Empty: every event matches. */
export type EventFilter = FilterCondition[];

const TESTS = ['equals', 'in', 'exists', 'prefix'] as const;
const MAX_FILTER_BYTES = 4096;
const MAX_CONDITIONS = 16;
const HELP = 'write a filter as {"path":"type","equals":"created"} (or "in":[...], "exists":true|false, "prefix":"..."), or a list of such conditions that must all hold';

function invalid(why: string): StratusError {
  return new StratusError('InvalidRequest', `invalid trigger filter: ${why}: ${HELP}`);
}

function parseCondition(raw: unknown): FilterCondition {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('a condition must be a JSON object');
  const obj = raw as Record<string, unknown>;
  const path = obj.path;
  if (typeof path !== 'string' || path.length === 0 || path.split('.').some((t) => t.length === 0)) throw invalid('"path" must be a non-empty dot-separated path such as order.status');
  const present = TESTS.filter((t) => t in obj);
  const unknown = Object.keys(obj).filter((k) => k !== 'path' && !(TESTS as readonly string[]).includes(k));
  if (unknown.length > 0) throw invalid(`unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')}`);
  if (present.length !== 1) throw invalid(`a condition needs exactly one of ${TESTS.map((t) => `"${t}"`).join(', ')} (got ${present.length})`);
  const test = present[0] as (typeof TESTS)[number];
  switch (test) {
    case 'equals':
      return { path, equals: obj.equals };
    case 'in':
      if (!Array.isArray(obj.in) || obj.in.length === 0) throw invalid('"in" must be a non-empty list of values');
      return { path, in: obj.in };
    case 'exists':
      if (typeof obj.exists !== 'boolean') throw invalid('"exists" must be true or false');
      return { path, exists: obj.exists };
    case 'prefix':
      if (typeof obj.prefix !== 'string') throw invalid('"prefix" must be a string');
      return { path, prefix: obj.prefix };
    default: {
      const unreachable: never = test;
      return unreachable;
    }
  }
}

/** Parses and validates a filter given as JSON text; empty text means no filter. */
export function parseEventFilter(text: string): EventFilter {
  if (text.trim() === '') return [];
  if (Buffer.byteLength(text) > MAX_FILTER_BYTES) throw invalid(`it is over ${MAX_FILTER_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new StratusError('InvalidRequest', `invalid trigger filter: it is not JSON (${(cause as Error).message}): ${HELP}`, { cause });
  }
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length > MAX_CONDITIONS) throw invalid(`at most ${MAX_CONDITIONS} conditions`);
  return list.map(parseCondition);
}

/** The filter as the JSON text users wrote (normalised); empty for no filter. */
export function formatEventFilter(filter: EventFilter): string {
  if (filter.length === 0) return '';
  return JSON.stringify(filter.length === 1 ? filter[0] : filter);
}

const ABSENT = Symbol('absent');

function lookup(data: unknown, path: string): unknown {
  let cur: unknown = data;
  for (const token of path.split('.')) {
    if (Array.isArray(cur) && /^\d+$/.test(token)) cur = Number(token) < cur.length ? cur[Number(token)] : ABSENT;
    else if (typeof cur === 'object' && cur !== null && !Array.isArray(cur) && Object.prototype.hasOwnProperty.call(cur, token)) cur = (cur as Record<string, unknown>)[token];
    else return ABSENT;
  }
  return cur;
}

function holds(c: FilterCondition, data: unknown, isJson: boolean): boolean {
  const value = isJson ? lookup(data, c.path) : ABSENT;
  if ('exists' in c) return (value !== ABSENT) === c.exists;
  if (value === ABSENT) return false;
  if ('equals' in c) return isDeepStrictEqual(value, c.equals);
  if ('in' in c) return c.in.some((v) => isDeepStrictEqual(value, v));
  return typeof value === 'string' && value.startsWith(c.prefix);
}

/** True when the event's data passes the filter. `isJson` is false for data that did not parse as JSON. */
export function matchesFilter(filter: EventFilter, data: unknown, isJson: boolean): boolean {
  return filter.every((c) => holds(c, data, isJson));
}
