import { StratusError } from './errors';
import { requireJsonPayload } from './json-payload';

function refusal(payload: Uint8Array): StratusError {
  try {
    requireJsonPayload(payload, 'payload');
  } catch (err) {
    expect(err).toBeInstanceOf(StratusError);
    return err as StratusError;
  }
  throw new Error('expected a refusal');
}

describe('requireJsonPayload', () => {
  test.each(['{}', '{"a":[1,2,{"b":null}]}', '"text"', '42', 'null', 'true', ' [ ] ', '"\u00e9\u4e2d"'])('accepts the JSON document %s', (doc) => {
    expect(() => requireJsonPayload(Buffer.from(doc), 'payload')).not.toThrow();
  });

  test('accepts an empty payload as no payload', () => {
    expect(() => requireJsonPayload(new Uint8Array(0), 'payload')).not.toThrow();
  });

  test.each(['hello', '{a:1}', "{'a':1}", '{"a":1', '{"a":1}{"b":2}', '   ', 'undefined', '[1,]'])('refuses %p with InvalidRequestContent naming the fix', (doc) => {
    const err = refusal(Buffer.from(doc));
    expect(err.code).toBe('InvalidRequestContent');
    expect(err.message).toMatch(/^the payload is not valid JSON \(.+\): send a JSON document/);
  });

  test('refuses bytes that are not UTF-8 even inside a JSON string', () => {
    const err = refusal(Buffer.from([0x22, 0xc3, 0x28, 0x22]));
    expect(err.code).toBe('InvalidRequestContent');
    expect(err.message).toMatch(/not valid UTF-8/);
  });

  test('refuses a payload with InvalidRequestContent naming the byte order mark when it starts with one', () => {
    const err = refusal(Buffer.from('\ufeff{"a":1}'));
    expect(err.code).toBe('InvalidRequestContent');
    expect(err.message).toMatch(/byte order mark .*without a BOM/);
  });

  test('refuses a BOM that is not at the start as JSON would, when it stands outside a string', () => {
    expect(refusal(Buffer.from(' \ufeff{}')).message).toMatch(/not valid JSON/);
    expect(() => requireJsonPayload(Buffer.from('"\ufeff"'), 'payload')).not.toThrow();
  });

  test('names the event when asked for an async event', () => {
    expect(() => requireJsonPayload(Buffer.from('x'), 'event')).toThrow(/^the event is not valid JSON/);
  });
});
