import { StratusError } from '../../sdk/core/errors';

/**
 * NATS subject pattern logic for triggers, as plain functions: validating a pattern, telling
 * whether two patterns can match a common subject, and reducing a set of patterns to the
 * smallest list a JetStream stream accepts (a stream refuses overlapping subjects).
 */

/** Longest pattern accepted; NATS itself has no hard limit, but subjects this long are a mistake. */
const MAX_PATTERN_LENGTH = 255;

/** Subject spaces a trigger may never capture: Stratus' own, JetStream's API and system subjects, reply inboxes. */
export const RESERVED_SUBJECTS = ['stratus.>', '$JS.>', '$KV.>', '$O.>', '$SYS.>', '_INBOX.>'] as const;

function tokens(pattern: string): string[] {
  return pattern.split('.');
}

/** True when `pattern` is a syntactically valid NATS subject or pattern (`*` whole tokens, `>` last). */
export function isValidPattern(pattern: string): boolean {
  if (pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH || /\s/.test(pattern)) return false;
  const t = tokens(pattern);
  return t.every((tok, i) => {
    if (tok.length === 0) return false;
    if (tok === '>') return i === t.length - 1;
    if (tok === '*') return true;
    return !tok.includes('*') && !tok.includes('>');
  });
}

/** True when `pattern` is a literal subject (no wildcards). */
export function isLiteralSubject(subject: string): boolean {
  return isValidPattern(subject) && tokens(subject).every((t) => t !== '*' && t !== '>');
}

/** True when some subject matches both `a` and `b`. */
export function subjectsOverlap(a: string, b: string): boolean {
  const ta = tokens(a);
  const tb = tokens(b);
  for (let i = 0; ; i += 1) {
    const x = ta[i];
    const y = tb[i];
    if (x === undefined || y === undefined) return x === undefined && y === undefined;
    // `>` matches one or more tokens, and the other side has at least one here.
    if (x === '>' || y === '>') return true;
    if (x !== '*' && y !== '*' && x !== y) return false;
  }
}

/** True when every subject matched by `inner` is also matched by `outer`. */
export function patternContains(outer: string, inner: string): boolean {
  const to = tokens(outer);
  const ti = tokens(inner);
  for (let i = 0; ; i += 1) {
    const o = to[i];
    const n = ti[i];
    if (o === undefined) return n === undefined;
    if (n === undefined) return false;
    if (o === '>') return true;
    if (o === '*') {
      if (n === '>') return false;
      continue;
    }
    if (o !== n) return false;
  }
}

/** True when `subject` (a literal) matches `pattern`. */
export function subjectMatches(pattern: string, subject: string): boolean {
  return patternContains(pattern, subject);
}

/**
 * The smallest list of patterns capturing the same subjects: duplicates and patterns contained
 * in another are dropped, so what is left never overlaps by containment. Sorted, so two routers
 * computing it from the same triggers write the same stream configuration.
 */
export function minimalCover(patterns: readonly string[]): string[] {
  const unique = [...new Set(patterns)].sort();
  return unique.filter((p) => !unique.some((q) => q !== p && patternContains(q, p)));
}

/**
 * Patterns in `patterns` that overlap but neither contains the other (`orders.*.eu` and
 * `orders.us.*`). A JetStream stream refuses such a pair; the stream captures their union
 * through a wider pattern instead (see {@link streamSubjects}).
 */
export function partialOverlaps(patterns: readonly string[]): Array<[string, string]> {
  const cover = minimalCover(patterns);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < cover.length; i += 1) {
    for (let j = i + 1; j < cover.length; j += 1) {
      const a = cover[i] as string;
      const b = cover[j] as string;
      if (subjectsOverlap(a, b)) out.push([a, b]);
    }
  }
  return out;
}

/**
 * The narrowest single pattern containing both `a` and `b`: equal tokens stay, differing ones
 * become `*`, and a length difference (or a `>`) ends in `>`.
 */
export function widen(a: string, b: string): string {
  const ta = tokens(a);
  const tb = tokens(b);
  const out: string[] = [];
  for (let i = 0; i < Math.max(ta.length, tb.length); i += 1) {
    const x = ta[i];
    const y = tb[i];
    if (x === undefined || y === undefined || x === '>' || y === '>') {
      out.push('>');
      break;
    }
    out.push(x === y ? x : '*');
  }
  return out.join('.');
}

/**
 * The subjects the events stream must capture for these trigger patterns: the minimal cover,
 * with partially overlapping pairs merged into a wider pattern until none is left. Consumers
 * still filter on each trigger's own pattern, so the wider capture only stores (and, with
 * interest retention, at once drops) events no trigger wants.
 */
export function streamSubjects(patterns: readonly string[]): string[] {
  let current = minimalCover(patterns);
  // Each merge removes at least one pattern, so this ends within patterns.length rounds.
  for (let round = 0; round < patterns.length + 1; round += 1) {
    const [pair] = partialOverlaps(current);
    if (!pair) return current;
    current = minimalCover([...current.filter((p) => p !== pair[0] && p !== pair[1]), widen(pair[0], pair[1])]);
  }
  return current;
}

/**
 * Validates a trigger pattern: valid NATS syntax and no overlap with reserved subject spaces
 * (the events stream would capture Stratus' own traffic, and JetStream refuses a stream whose
 * subjects overlap another stream's).
 */
export function validateTriggerPattern(pattern: string): string {
  if (!isValidPattern(pattern)) {
    throw new StratusError(
      'InvalidRequest',
      `'${pattern}' is not a NATS subject pattern: use dot-separated tokens, '*' for one whole token and '>' as the last token (e.g. orders.* or audit.>)`,
    );
  }
  const first = tokens(pattern)[0] as string;
  if (first === '*' || first === '>') {
    throw new StratusError('InvalidRequest', `pattern '${pattern}' starts with a wildcard, so it overlaps Stratus' own subjects (stratus.>): start it with a literal token such as orders.*`);
  }
  const reserved = first.startsWith('$') ? `${first}.>` : RESERVED_SUBJECTS.find((r) => subjectsOverlap(pattern, r));
  if (reserved) {
    throw new StratusError('InvalidRequest', `pattern '${pattern}' overlaps reserved subjects (${reserved}): pick subjects outside stratus.>, $-prefixed and _INBOX subjects`);
  }
  return pattern;
}
