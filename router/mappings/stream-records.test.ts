import { batchEvent, BATCH_ENVELOPE_BYTES, decodeData, orderingKeyOf, streamRecord, type RawRecord } from './stream-records';

const raw = (data: string | Uint8Array, headers: Record<string, string> = {}): RawRecord => ({
  stream: 'ORDERS',
  subject: 'orders.created',
  seq: 42,
  data: typeof data === 'string' ? Buffer.from(data) : data,
  headers,
  timestampMs: Date.UTC(2025, 0, 1, 12, 0, 0, 123),
});

test('a stream record carries base64 data, parsed JSON, a string sequence and both timestamps when the data is JSON', () => {
  const r = raw('{"id":7}', { 'Nats-Msg-Id': 'a1' });
  expect(streamRecord(r, decodeData(r.data), 'c7', 'arn:x')).toEqual({
    eventSource: 'stratus:jetstream',
    eventSourceArn: 'arn:x',
    eventName: 'stratus:jetstream:record',
    eventVersion: '1.0',
    eventID: 'ORDERS:42',
    stream: 'ORDERS',
    subject: 'orders.created',
    sequence: '42',
    key: 'c7',
    data: Buffer.from('{"id":7}').toString('base64'),
    json: { id: 7 },
    headers: { 'Nats-Msg-Id': 'a1' },
    timestamp: '2025-01-01T12:00:00.123Z',
    approximateArrivalTimestamp: 1735732800.123,
  });
});

test('a stream record has no json field when the data is not UTF-8 JSON', () => {
  for (const data of ['not json', new Uint8Array([0xff, 0xfe, 0x7b]), '']) {
    const r = raw(data);
    const rec = streamRecord(r, decodeData(r.data), null, 'arn:x');
    expect(rec).not.toHaveProperty('json');
    expect(Buffer.from(rec.data as string, 'base64')).toEqual(Buffer.from(r.data));
  }
});

test('the ordering key comes from a header, a JSON path or the subject, and is null when absent', () => {
  const r = raw('{"order":{"customer":"c9","n":3},"tags":["x","y"]}', { 'Order-Key': 'k1' });
  const d = decodeData(r.data);
  expect(orderingKeyOf(r, d, { kind: 'header', name: 'Order-Key' })).toBe('k1');
  expect(orderingKeyOf(r, d, { kind: 'header', name: 'Other' })).toBeNull();
  expect(orderingKeyOf(r, d, { kind: 'json', path: 'order.customer' })).toBe('c9');
  expect(orderingKeyOf(r, d, { kind: 'json', path: 'order.n' })).toBe('3');
  expect(orderingKeyOf(r, d, { kind: 'json', path: 'tags.1' })).toBe('y');
  expect(orderingKeyOf(r, d, { kind: 'json', path: 'order.missing' })).toBeNull();
  expect(orderingKeyOf(r, d, { kind: 'subject' })).toBe('orders.created');
  expect(orderingKeyOf(r, d, { kind: 'none' })).toBeNull();
  const text = raw('plain');
  expect(orderingKeyOf(text, decodeData(text.data), { kind: 'json', path: 'a' })).toBeNull();
});

test('a batch event wraps serialised records and its envelope size is what it adds', () => {
  const event = batchEvent(['{"a":1}', '{"b":2}']);
  expect(JSON.parse(event)).toEqual({ Records: [{ a: 1 }, { b: 2 }] });
  expect(Buffer.byteLength(batchEvent([]))).toBe(BATCH_ENVELOPE_BYTES);
});
