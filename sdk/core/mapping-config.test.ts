import { DEFAULT_MAPPING_SETTINGS, eventSourceArn, resolveCreateMapping, resolveMappingSettings, sourceStream, validateItemKey, validateMappingSource, validateStoreName } from './mapping-config';
import { mappingSettingsFromPb, mappingSettingsToPb } from './wire/mapping-codec';

test('a new stream mapping gets Lambda defaults when no settings are given', () => {
  const m = resolveCreateMapping({ functionName: 'fn', source: { kind: 'stream', name: 'ORDERS', filter: '' } });
  expect(m.startingPosition).toBe('LATEST');
  expect(m.settings).toEqual(DEFAULT_MAPPING_SETTINGS);
  expect(m.settings).toMatchObject({ batchSize: 100, maximumBatchingWindowMs: 0, maximumRetryAttempts: -1, maximumRecordAgeSeconds: -1, parallelizationFactor: 1 });
});

test.each([
  [{ batchSize: 0 }, /batch size/],
  [{ batchSize: 10_001 }, /batch size/],
  [{ maximumBatchingWindowMs: 300_001 }, /batching window/],
  [{ maximumBatchBytes: 7 * 1024 * 1024 }, /maximum batch size/],
  [{ maximumRetryAttempts: -2 }, /retry attempts/],
  [{ maximumRecordAgeSeconds: 30 }, /record age/],
  [{ parallelizationFactor: 0 }, /parallelization/],
  [{ maximumConcurrency: 0 }, /concurrency/],
  [{ orderingKey: { kind: 'json' as const, path: 'a..b' } }, /JSON path/],
  [{ onFailure: { kind: 'subject' as const, target: 'a.*' } }, /not a NATS subject/],
])('settings are refused with a message naming the field when out of range (%j)', (patch, message) => {
  expect(() => resolveMappingSettings(patch, 'stream')).toThrow(message);
});

test('an update keeps stored settings it does not name and clears the destination when given null', () => {
  const base = resolveMappingSettings({ batchSize: 10, onFailure: { kind: 'subject', target: 'failed.x' }, maximumConcurrency: 5 }, 'stream');
  expect(resolveMappingSettings({ batchSize: 20 }, 'stream', base)).toMatchObject({ batchSize: 20, onFailure: { kind: 'subject', target: 'failed.x' }, maximumConcurrency: 5 });
  expect(resolveMappingSettings({ onFailure: null, maximumConcurrency: undefined }, 'stream', base)).toMatchObject({ onFailure: undefined, maximumConcurrency: undefined });
});

test('table and bucket mappings refuse an ordering key because they are ordered by item key or object name', () => {
  expect(() => resolveMappingSettings({ orderingKey: { kind: 'subject' } }, 'table')).toThrow(/always ordered/);
  expect(resolveMappingSettings({}, 'bucket').orderingKey).toEqual({ kind: 'none' });
});

test('sources map onto the streams underneath and their subjects', () => {
  expect(sourceStream({ kind: 'stream', name: 'ORDERS', filter: 'orders.*' })).toEqual({ stream: 'ORDERS', subjectFilter: 'orders.*' });
  expect(sourceStream({ kind: 'table', name: 'users', filter: '' })).toEqual({ stream: 'KV_users', subjectFilter: '$KV.users.>' });
  expect(sourceStream({ kind: 'table', name: 'users', filter: 'eu.*' })).toEqual({ stream: 'KV_users', subjectFilter: '$KV.users.eu.*' });
  expect(sourceStream({ kind: 'bucket', name: 'files', filter: '' })).toEqual({ stream: 'OBJ_files', subjectFilter: '$O.files.M.>' });
  expect(eventSourceArn('r', '1', { kind: 'table', name: 'users', filter: '' })).toBe('arn:stratus:table:r:1:table/users');
});

test('sources are refused when their names are invalid or belong to Stratus', () => {
  expect(() => validateMappingSource({ kind: 'stream', name: 'STRATUS_ASYNC', filter: '' })).toThrow(/belongs to Stratus/);
  expect(() => validateMappingSource({ kind: 'stream', name: 'a.b', filter: '' })).toThrow(/stream name/);
  expect(() => validateMappingSource({ kind: 'stream', name: 'S', filter: 'a.>.b' })).toThrow(/subject filter/);
  expect(() => validateMappingSource({ kind: 'bucket', name: 'files', filter: 'x' })).toThrow(/no filter/);
  expect(() => validateStoreName('table', 'stratus_functions')).toThrow(/reserved/);
  expect(() => validateItemKey('.a')).toThrow(/invalid key/);
  expect(validateItemKey('users.7/x=y')).toBe('users.7/x=y');
});

test('AT_TIMESTAMP needs a timestamp and other positions refuse one', () => {
  const source = { kind: 'stream' as const, name: 'S', filter: '' };
  expect(() => resolveCreateMapping({ functionName: 'f', source, startingPosition: 'AT_TIMESTAMP' })).toThrow(/starting timestamp/);
  expect(() => resolveCreateMapping({ functionName: 'f', source, startingPosition: 'LATEST', startingPositionTimestampMs: 5 })).toThrow(/AT_TIMESTAMP/);
  expect(resolveCreateMapping({ functionName: 'f', source, startingPosition: 'AT_TIMESTAMP', startingPositionTimestampMs: 5 }).startingPositionTimestampMs).toBe(5);
});

test('a settings patch survives the wire with unset fields left unset and a cleared destination kept as a clear', () => {
  expect(mappingSettingsFromPb(mappingSettingsToPb({ batchSize: 7 }))).toEqual({ batchSize: 7 });
  expect(mappingSettingsFromPb(mappingSettingsToPb({ onFailure: null, maximumConcurrency: undefined }))).toEqual({ onFailure: null, maximumConcurrency: undefined });
  const full = resolveMappingSettings({ orderingKey: { kind: 'json', path: 'a.b' }, onFailure: { kind: 'function', target: 'sink' } }, 'stream');
  expect(mappingSettingsFromPb(mappingSettingsToPb(full))).toEqual(full);
});
