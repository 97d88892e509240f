import { latestTick, nextTick, parseScheduleExpression, previousTick, validateTimezone } from './schedule-expression';

const limits = { minPeriodMs: 60_000 };
const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

describe('parseScheduleExpression', () => {
  test('parseScheduleExpression reads rate units when written singular or plural', () => {
    expect(parseScheduleExpression('rate(1 minute)', '', limits)).toEqual({ kind: 'rate', periodMs: 60_000 });
    expect(parseScheduleExpression('rate(5 minutes)', '', limits)).toEqual({ kind: 'rate', periodMs: 300_000 });
    expect(parseScheduleExpression('rate(2 hours)', '', limits)).toEqual({ kind: 'rate', periodMs: 7_200_000 });
    expect(parseScheduleExpression('rate(1 day)', '', limits)).toEqual({ kind: 'rate', periodMs: 86_400_000 });
  });
  test('parseScheduleExpression refuses seconds when the minimum period is a minute', () => {
    expect(() => parseScheduleExpression('rate(2 seconds)', '', limits)).toThrow(/minimum period of 60 s.*STRATUS_SCHEDULE_MIN_PERIOD_MS/);
  });
  test('parseScheduleExpression accepts seconds when the minimum period allows them', () => {
    expect(parseScheduleExpression('rate(2 seconds)', '', { minPeriodMs: 1000 })).toEqual({ kind: 'rate', periodMs: 2000 });
  });
  test.each([
    ['rate(5 fortnights)', /rate\(<number> <unit>\)/],
    ['rate(0 minutes)', /1 or more/],
    ['rate(five minutes)', /rate\(<number> <unit>\)/],
    ['* * * *', /5 fields/],
    ['*/5 * * * * *', /5 fields/],
    ['61 * * * *', /invalid schedule expression/],
    ['@secondly', /@yearly/],
    ['cron(0 12 * * *)', /six fields/],
    ['H * * * *', /'H'/],
    ['cron(0 12 * * ? 1999)', /no upcoming tick/],
  ])('parseScheduleExpression refuses %s with InvalidRequest', (text, message) => {
    expect(() => parseScheduleExpression(text, '', limits)).toThrow(message);
  });
  test('parseScheduleExpression refuses a time zone when the expression is a rate', () => {
    expect(() => parseScheduleExpression('rate(5 minutes)', 'Europe/Paris', limits)).toThrow(/cron expressions only/);
  });
  test('validateTimezone refuses unknown zones and defaults empty to UTC', () => {
    expect(validateTimezone('')).toBe('UTC');
    expect(validateTimezone('Europe/Paris')).toBe('Europe/Paris');
    expect(() => validateTimezone('Mars/Olympus')).toThrow(/IANA/);
  });
});

describe('ticks', () => {
  test('rate ticks count from the anchor when asked for the next and the latest', () => {
    const expr = parseScheduleExpression('rate(5 minutes)', '', limits);
    const anchor = at('2025-01-01T00:00:00Z');
    expect(iso(nextTick(expr, anchor, anchor))).toBe('2025-01-01T00:05:00.000Z');
    expect(iso(nextTick(expr, anchor, at('2025-01-01T00:05:00Z')))).toBe('2025-01-01T00:10:00.000Z');
    expect(latestTick(expr, anchor, at('2025-01-01T00:04:59Z'))).toBeUndefined();
    expect(iso(latestTick(expr, anchor, at('2025-01-01T00:10:00Z')))).toBe('2025-01-01T00:10:00.000Z');
    expect(iso(previousTick(expr, anchor, at('2025-01-01T00:10:00Z')))).toBe('2025-01-01T00:05:00.000Z');
    expect(previousTick(expr, anchor, at('2025-01-01T00:05:00Z'))).toBeUndefined();
  });
  test('EventBridge cron ticks on weekdays at noon UTC when written cron(0 12 ? * MON-FRI *)', () => {
    const expr = parseScheduleExpression('cron(0 12 ? * MON-FRI *)', '', limits);
    // 2025-01-03 is a Friday.
    expect(iso(nextTick(expr, 0, at('2025-01-03T12:00:00Z')))).toBe('2025-01-06T12:00:00.000Z');
    expect(iso(latestTick(expr, 0, at('2025-01-05T00:00:00Z')))).toBe('2025-01-03T12:00:00.000Z');
    expect(iso(latestTick(expr, 0, at('2025-01-03T12:00:00Z')))).toBe('2025-01-03T12:00:00.000Z');
  });
  test('EventBridge cron counts day 1 as Sunday when days are numbers', () => {
    const expr = parseScheduleExpression('cron(0 8 ? * 1 *)', '', limits);
    expect(new Date(nextTick(expr, 0, at('2025-01-01T00:00:00Z')) ?? 0).getUTCDay()).toBe(0);
  });
  test('EventBridge cron skips to allowed years when the year field limits them', () => {
    const expr = parseScheduleExpression('cron(0 0 1 1 ? 2031,2033)', '', limits);
    expect(iso(nextTick(expr, 0, at('2025-06-01T00:00:00Z')))).toBe('2031-01-01T00:00:00.000Z');
    expect(iso(nextTick(expr, 0, at('2031-01-01T00:00:00Z')))).toBe('2033-01-01T00:00:00.000Z');
    expect(nextTick(expr, 0, at('2033-01-01T00:00:00Z'))).toBeUndefined();
    expect(iso(latestTick(expr, 0, at('2032-12-31T00:00:00Z')))).toBe('2031-01-01T00:00:00.000Z');
    expect(latestTick(expr, 0, at('2030-12-31T00:00:00Z'))).toBeUndefined();
  });
  test('standard cron runs in the time zone when one is given', () => {
    const expr = parseScheduleExpression('0 9 * * *', 'America/New_York', limits);
    // Winter: 9:00 EST is 14:00 UTC; summer: 9:00 EDT is 13:00 UTC.
    expect(iso(nextTick(expr, 0, at('2025-01-10T00:00:00Z')))).toBe('2025-01-10T14:00:00.000Z');
    expect(iso(nextTick(expr, 0, at('2025-07-10T00:00:00Z')))).toBe('2025-07-10T13:00:00.000Z');
  });
  test('EventBridge cron in a time zone finds year boundaries in that zone when years are limited', () => {
    const expr = parseScheduleExpression('cron(30 0 1 1 ? 2031)', 'Asia/Tokyo', limits);
    expect(iso(nextTick(expr, 0, at('2025-06-01T00:00:00Z')))).toBe('2030-12-31T15:30:00.000Z');
  });
  test('predefined cron names tick as their five-field forms when used', () => {
    const expr = parseScheduleExpression('@daily', '', limits);
    expect(iso(nextTick(expr, 0, at('2025-01-01T10:00:00Z')))).toBe('2025-01-02T00:00:00.000Z');
  });
});
