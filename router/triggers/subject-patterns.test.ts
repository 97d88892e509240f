import { StratusError } from '../../sdk/core/errors';
import { isLiteralSubject, isValidPattern, minimalCover, patternContains, streamSubjects, subjectMatches, subjectsOverlap, validateTriggerPattern, widen } from './subject-patterns';

describe('isValidPattern', () => {
  test.each(['orders', 'orders.*', 'audit.>', 'a.*.c', 'a.b-c_d.e'])('isValidPattern accepts %s when it is NATS syntax', (p) => {
    expect(isValidPattern(p)).toBe(true);
  });
  test.each(['', 'a..b', '.a', 'a.', 'a.>.b', 'a.b*', 'a b', 'a.>x'])('isValidPattern refuses %j when it is not NATS syntax', (p) => {
    expect(isValidPattern(p)).toBe(false);
  });
  test('isLiteralSubject is false when the subject has a wildcard', () => {
    expect(isLiteralSubject('orders.created')).toBe(true);
    expect(isLiteralSubject('orders.*')).toBe(false);
    expect(isLiteralSubject('orders.>')).toBe(false);
  });
});

describe('subjectsOverlap', () => {
  test.each([
    ['orders.*', 'orders.created', true],
    ['orders.*', 'orders.>', true],
    ['orders.*.eu', 'orders.us.*', true],
    ['orders.*', 'orders.a.b', false],
    ['orders', 'orders.>', false],
    ['*.x', 'stratus.>', true],
    ['orders.>', 'stratus.>', false],
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
  ])('subjectsOverlap(%s, %s) is %s when some subject matches both', (a, b, want) => {
    expect(subjectsOverlap(a, b)).toBe(want);
    expect(subjectsOverlap(b, a)).toBe(want);
  });
});

describe('patternContains', () => {
  test.each([
    ['orders.>', 'orders.*', true],
    ['orders.>', 'orders.a.b', true],
    ['orders.*', 'orders.>', false],
    ['orders.*', 'orders.created', true],
    ['orders.*', 'orders', false],
    ['orders.>', 'orders', false],
    ['a.*.c', 'a.b.c', true],
    ['a.b.c', 'a.*.c', false],
  ])('patternContains(%s, %s) is %s', (outer, inner, want) => {
    expect(patternContains(outer, inner)).toBe(want);
  });
  test('subjectMatches is true when a literal subject falls under the pattern', () => {
    expect(subjectMatches('orders.*', 'orders.created')).toBe(true);
    expect(subjectMatches('orders.*', 'audit.created')).toBe(false);
  });
});

describe('stream subjects', () => {
  test('minimalCover drops duplicates and contained patterns when given overlapping triggers', () => {
    expect(minimalCover(['orders.*', 'orders.>', 'orders.created', 'audit.x', 'audit.x'])).toEqual(['audit.x', 'orders.>']);
  });
  test('widen keeps equal tokens and wildcards the rest when two patterns differ', () => {
    expect(widen('orders.*.eu', 'orders.us.*')).toBe('orders.*.*');
    expect(widen('a.b', 'a.b.c')).toBe('a.b.>');
    expect(widen('a.>', 'a.b.c')).toBe('a.>');
  });
  test('streamSubjects merges partially overlapping patterns when neither contains the other', () => {
    const subjects = streamSubjects(['orders.*.eu', 'orders.us.*', 'audit.>']);
    expect(subjects).toEqual(['audit.>', 'orders.*.*']);
    for (let i = 0; i < subjects.length; i += 1) for (let j = i + 1; j < subjects.length; j += 1) expect(subjectsOverlap(subjects[i] as string, subjects[j] as string)).toBe(false);
  });
  test('streamSubjects covers every input pattern when given a mix', () => {
    const input = ['a.*.c', 'a.b.*', 'a.>', 'x.y', 'x.*', 'q.*.*.z', 'q.w.*.*'];
    const subjects = streamSubjects(input);
    for (const p of input) expect(subjects.some((s) => patternContains(s, p))).toBe(true);
  });
  test('streamSubjects is empty when there are no triggers', () => {
    expect(streamSubjects([])).toEqual([]);
  });
});

describe('validateTriggerPattern', () => {
  test.each(['stratus.>', 'stratus.async.fn', '*.created', '>', '$KV.x.y', '$JS.API.>', '_INBOX.abc'])('validateTriggerPattern refuses %s with InvalidRequest when it overlaps reserved subjects', (p) => {
    expect(() => validateTriggerPattern(p)).toThrow(StratusError);
    try {
      validateTriggerPattern(p);
    } catch (err) {
      expect((err as StratusError).code).toBe('InvalidRequest');
    }
  });
  test('validateTriggerPattern accepts user subjects when they are outside reserved spaces', () => {
    expect(validateTriggerPattern('orders.*')).toBe('orders.*');
    expect(validateTriggerPattern('Stratus.custom')).toBe('Stratus.custom');
  });
  test('validateTriggerPattern explains the syntax when the pattern is malformed', () => {
    expect(() => validateTriggerPattern('orders..x')).toThrow(/dot-separated tokens/);
  });
});
