import type { RawRecord } from './stream-records';
import { bucketRecord, kvChange, objectMeta, tableRecord } from './change-records';

const T = Date.UTC(2025, 0, 1, 12, 0, 0, 123);
const kvRaw = (key: string, value: string, headers: Record<string, string> = {}, seq = 12): RawRecord => ({ stream: 'KV_users', subject: `$KV.users.${key}`, seq, data: Buffer.from(value), headers, timestampMs: T });

test('a table put carries the new value and the kept previous value when the key had one', () => {
  const change = kvChange(kvRaw('user.7', '{"name":"Ada"}'), 'users');
  expect(change).toMatchObject({ key: 'user.7', operation: 'PUT', revision: 12 });
  const rec = tableRecord(change, { revision: 9, operation: 'PUT', value: Buffer.from('plain') }, 'arn:t');
  expect(rec).toEqual({
    eventSource: 'stratus:table',
    eventSourceArn: 'arn:t',
    eventName: 'PUT',
    eventVersion: '1.0',
    eventID: 'users:12',
    table: 'users',
    key: 'user.7',
    operation: 'PUT',
    revision: 12,
    sequence: '12',
    timestamp: '2025-01-01T12:00:00.123Z',
    newValue: { data: Buffer.from('{"name":"Ada"}').toString('base64'), json: { name: 'Ada' } },
    previousValue: { revision: 9, data: Buffer.from('plain').toString('base64') },
  });
});

test('a table delete has no new value and a purge is told apart by its header', () => {
  const del = tableRecord(kvChange(kvRaw('k', '', { 'KV-Operation': 'DEL' }), 'users'), { revision: 3, operation: 'PUT', value: Buffer.from('"v"') }, 'arn:t');
  expect(del).toMatchObject({ operation: 'DEL', eventName: 'DEL', newValue: null, previousValue: { revision: 3, json: 'v' } });
  const purge = tableRecord(kvChange(kvRaw('k', '', { 'KV-Operation': 'PURGE', 'Nats-Rollup': 'sub' }), 'users'), undefined, 'arn:t');
  expect(purge).toMatchObject({ operation: 'PURGE', newValue: null, previousValue: null });
});

test('the previous value is null when the revision before was a delete', () => {
  const rec = tableRecord(kvChange(kvRaw('k', '1'), 'users'), { revision: 5, operation: 'DEL', value: new Uint8Array() }, 'arn:t');
  expect(rec.previousValue).toBeNull();
});

const objRaw = (info: unknown): RawRecord => ({ stream: 'OBJ_files', subject: '$O.files.M.cmVwb3J0', seq: 31, data: Buffer.from(JSON.stringify(info)), headers: {}, timestampMs: T });

test('an object put record carries name, size and digest from the object info', () => {
  const raw = objRaw({ name: 'report.pdf', bucket: 'files', nuid: 'n', size: 48213, chunks: 1, digest: 'SHA-256=abc', mtime: '2025-01-01T12:00:00.120Z', description: 'q1' });
  const meta = objectMeta(raw);
  expect(meta).toBeDefined();
  expect(bucketRecord(raw, 'files', meta!, 'arn:b')).toEqual({
    eventSource: 'stratus:bucket',
    eventSourceArn: 'arn:b',
    eventName: 'PUT',
    eventVersion: '1.0',
    eventID: 'files:31',
    bucket: 'files',
    name: 'report.pdf',
    operation: 'PUT',
    size: 48213,
    digest: 'SHA-256=abc',
    chunks: 1,
    description: 'q1',
    mtime: '2025-01-01T12:00:00.120Z',
    sequence: '31',
    timestamp: '2025-01-01T12:00:00.123Z',
  });
});

test('an object delete record has size 0 and no digest, and a message that is not object info is no record', () => {
  const raw = objRaw({ name: 'report.pdf', size: 0, chunks: 0, digest: '', deleted: true, mtime: '2025-01-01T12:00:00.120Z' });
  expect(bucketRecord(raw, 'files', objectMeta(raw)!, 'arn:b')).toMatchObject({ operation: 'DEL', size: 0, digest: null, chunks: 0 });
  expect(objectMeta({ ...raw, data: Buffer.from('nope') })).toBeUndefined();
});
