import { parseDestination, parseDurationMs, parseTimestamp, settingsFromFlags, sourceFromFlags } from './mappings';

test('durations read as ms by default and take ms, s and m suffixes', () => {
  expect(parseDurationMs('--window', '250')).toBe(250);
  expect(parseDurationMs('--window', '250ms')).toBe(250);
  expect(parseDurationMs('--window', '1.5s')).toBe(1500);
  expect(parseDurationMs('--window', '2m')).toBe(120_000);
  expect(() => parseDurationMs('--window', 'soon')).toThrow(/duration/);
});

test('settings flags become a patch holding only what was given', () => {
  expect(settingsFromFlags({})).toEqual({});
  expect(settingsFromFlags({ batchSize: '50', window: '1s', keyJson: 'order.id', maxRetries: '-1', bisect: true, onFailure: 'subject:failed.orders' })).toEqual({
    batchSize: 50,
    maximumBatchingWindowMs: 1000,
    orderingKey: { kind: 'json', path: 'order.id' },
    maximumRetryAttempts: -1,
    bisectBatchOnFunctionError: true,
    onFailure: { kind: 'subject', target: 'failed.orders' },
  });
  expect(settingsFromFlags({ onFailure: false, maxConcurrency: '0', bisect: false })).toEqual({ onFailure: null, maximumConcurrency: undefined, bisectBatchOnFunctionError: false });
});

test('settings flags refuse two ordering keys and bad numbers', () => {
  expect(() => settingsFromFlags({ keyHeader: 'K', keySubject: true })).toThrow(/one of/);
  expect(() => settingsFromFlags({ batchSize: 'ten' })).toThrow(/whole number/);
});

test('the source comes from exactly one of --stream, --table and --bucket', () => {
  expect(sourceFromFlags({ stream: 'S', subject: 's.>' })).toEqual({ kind: 'stream', name: 'S', filter: 's.>' });
  expect(sourceFromFlags({ table: 'users', keys: 'eu.*' })).toEqual({ kind: 'table', name: 'users', filter: 'eu.*' });
  expect(sourceFromFlags({ bucket: 'files' })).toEqual({ kind: 'bucket', name: 'files', filter: '' });
  expect(() => sourceFromFlags({})).toThrow(/exactly one source/);
  expect(() => sourceFromFlags({ stream: 'S', table: 'T' })).toThrow(/exactly one source/);
});

test('destinations and timestamps parse as users type them', () => {
  expect(parseDestination('function:audit')).toEqual({ kind: 'function', target: 'audit' });
  expect(() => parseDestination('queue:x')).toThrow(/subject:<subject>/);
  expect(parseTimestamp('2025-01-01T00:00:00Z')).toBe(Date.UTC(2025, 0, 1));
  expect(parseTimestamp('1700000000000')).toBe(1_700_000_000_000);
});
