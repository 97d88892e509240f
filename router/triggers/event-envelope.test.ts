import { buildEnvelope, eventRequestId } from './event-envelope';

const base = { subject: 'orders.created', headers: { 'Nats-Msg-Id': 'a1' }, publishedAtMs: Date.UTC(2025, 0, 1, 12), sequence: 42 };

describe('buildEnvelope', () => {
  test('buildEnvelope hands JSON data as parsed JSON when the payload parses', () => {
    const { envelope, isJson } = buildEnvelope({ ...base, data: Buffer.from('{"id":7}') }, 't1');
    expect(isJson).toBe(true);
    expect(envelope).toEqual({ subject: 'orders.created', data: { id: 7 }, headers: { 'Nats-Msg-Id': 'a1' }, publishedAt: '2025-01-01T12:00:00.000Z', sequence: 42, trigger: 't1' });
    expect(JSON.parse(JSON.stringify(envelope))).not.toHaveProperty('dataEncoding');
  });
  test('buildEnvelope base64-encodes the data and says so when it is not JSON', () => {
    const { envelope, isJson } = buildEnvelope({ ...base, data: Buffer.from('plain text') }, 't1');
    expect(isJson).toBe(false);
    expect(envelope.dataEncoding).toBe('base64');
    expect(Buffer.from(envelope.data as string, 'base64').toString()).toBe('plain text');
  });
  test('buildEnvelope base64-encodes the data when it is not valid UTF-8', () => {
    const { envelope } = buildEnvelope({ ...base, data: Buffer.from([0x22, 0xff, 0x22]) }, 't1');
    expect(envelope.dataEncoding).toBe('base64');
    expect(Buffer.from(envelope.data as string, 'base64')).toEqual(Buffer.from([0x22, 0xff, 0x22]));
  });
  test('buildEnvelope gives null data without an encoding when the payload is empty', () => {
    const { envelope, isJson } = buildEnvelope({ ...base, data: new Uint8Array(0) }, 't1');
    expect(envelope.data).toBeNull();
    expect(envelope.dataEncoding).toBeUndefined();
    expect(isJson).toBe(false);
  });
  test('buildEnvelope keeps JSON scalars as values when the payload is a bare number or string', () => {
    expect(buildEnvelope({ ...base, data: Buffer.from('12') }, 't').envelope.data).toBe(12);
    expect(buildEnvelope({ ...base, data: Buffer.from('"hi"') }, 't').envelope.data).toBe('hi');
  });
  test('eventRequestId is the same for the same trigger and sequence when an event is redelivered', () => {
    expect(eventRequestId('abc', 9)).toBe('evt-abc-9');
    expect(eventRequestId('abc', 9)).toBe(eventRequestId('abc', 9));
  });
});
