import { mapFunctionResult, type HttpResponse, type MappedResult } from './api-gateway-response';
import { functionFailed, httpStatusFor, responseForError } from './http-errors';
import { StratusError } from '../../sdk/core/errors';

function mapped(value: unknown): MappedResult {
  return mapFunctionResult(Buffer.from(typeof value === 'string' && value.startsWith('RAW:') ? value.slice(4) : JSON.stringify(value)));
}

function ok(value: unknown): HttpResponse {
  const m = mapped(value);
  if (m.kind !== 'response') throw new Error(`expected a response, got malformed: ${m.reason}`);
  return m.response;
}

describe('mapFunctionResult', () => {
  test('mapFunctionResult uses status, headers, cookies and body when the result has a statusCode', () => {
    const r = ok({ statusCode: 201, headers: { 'Content-Type': 'text/html', 'X-Count': 3, 'X-Flag': true }, cookies: ['a=1; Path=/', 'b=2'], body: '<p>hi</p>' });
    expect(r.statusCode).toBe(201);
    expect(r.headers).toEqual([
      ['Content-Type', 'text/html'],
      ['X-Count', '3'],
      ['X-Flag', 'true'],
      ['set-cookie', 'a=1; Path=/'],
      ['set-cookie', 'b=2'],
    ]);
    expect(r.body.toString()).toBe('<p>hi</p>');
  });

  test('mapFunctionResult decodes the body when isBase64Encoded is true', () => {
    const bytes = Buffer.from([137, 80, 78, 71, 0, 255]);
    const r = ok({ statusCode: 200, headers: { 'content-type': 'image/png' }, body: bytes.toString('base64'), isBase64Encoded: true });
    expect(r.body).toEqual(bytes);
  });

  test('mapFunctionResult answers 200 JSON with the whole value when the result has no statusCode', () => {
    const r = ok({ message: 'Hello', n: 1 });
    expect(r.statusCode).toBe(200);
    expect(r.headers).toEqual([['content-type', 'application/json']]);
    expect(JSON.parse(r.body.toString())).toEqual({ message: 'Hello', n: 1 });
    expect(ok([1, 2]).body.toString()).toBe('[1,2]');
    expect(ok(42).body.toString()).toBe('42');
    expect(ok(null).body.toString()).toBe('null');
  });

  test('mapFunctionResult sends a string result without quotes when the function returns a string', () => {
    const r = ok('Hello from Lambda!');
    expect(r.statusCode).toBe(200);
    expect(r.body.toString()).toBe('Hello from Lambda!');
    expect(r.headers).toEqual([['content-type', 'application/json']]);
  });

  test('mapFunctionResult keeps the payload bytes as the body when the value is inferred', () => {
    expect(ok('RAW:{"big":12345678901234567890,"f":1.50}').body.toString()).toBe('{"big":12345678901234567890,"f":1.50}');
  });

  test('mapFunctionResult answers 200 with no body when the payload is empty', () => {
    expect(mapFunctionResult(Buffer.alloc(0))).toEqual({ kind: 'response', response: { statusCode: 200, headers: [], body: Buffer.alloc(0) } });
  });

  test('mapFunctionResult sends an object body as JSON and drops framing headers when the function sets them', () => {
    const r = ok({ statusCode: 200, headers: { 'Content-Length': '999', 'Transfer-Encoding': 'chunked', Connection: 'close', 'X-Ok': 'y' }, body: { a: 1 } });
    expect(r.headers).toEqual([['X-Ok', 'y']]);
    expect(r.body.toString()).toBe('{"a":1}');
  });

  test.each([
    ['RAW:not json', /not JSON/],
    [{ statusCode: '200' }, /statusCode/],
    [{ statusCode: 99 }, /statusCode/],
    [{ statusCode: 200.5 }, /statusCode/],
    [{ statusCode: 200, headers: ['a'] }, /headers must be an object/],
    [{ statusCode: 200, headers: { 'bad name': 'x' } }, /valid header name/],
    [{ statusCode: 200, headers: { 'x-a': 'line\r\nbreak' } }, /cannot carry/],
    [{ statusCode: 200, headers: { 'x-a': { nested: true } } }, /string, number or boolean/],
    [{ statusCode: 200, cookies: 'a=1' }, /cookies must be an array/],
    [{ statusCode: 200, isBase64Encoded: 'yes' }, /boolean/],
  ])('mapFunctionResult calls the result malformed when it is %j', (value, reason) => {
    const m = mapped(value);
    expect(m.kind).toBe('malformed');
    expect(m.kind === 'malformed' && m.reason).toMatch(reason);
  });
});

describe('http errors', () => {
  test('responseForError answers 429 with Retry-After in whole seconds rounded up when the call was throttled', () => {
    const r = responseForError(new StratusError('TooManyRequests', 'busy', { retryAfterMs: 1200 }), 'rid');
    expect(r.statusCode).toBe(429);
    expect(r.headers).toContainEqual(['retry-after', '2']);
    expect(JSON.parse(r.body.toString())).toMatchObject({ message: 'Too Many Requests', code: 'TooManyRequests', requestId: 'rid' });
    expect(responseForError(new StratusError('TooManyRequests', 'busy', { retryAfterMs: 200 }), 'rid').headers).toContainEqual(['retry-after', '1']);
  });

  test('responseForError answers 400 with the code and the fix when a payload is not JSON', () => {
    const r = responseForError(new StratusError('InvalidRequestContent', 'the payload is not valid JSON (x): send a JSON document'), 'rid');
    expect(r.statusCode).toBe(400);
    expect(JSON.parse(r.body.toString())).toEqual({ message: 'Bad Request', reason: 'the payload is not valid JSON (x): send a JSON document', code: 'InvalidRequestContent', requestId: 'rid' });
  });

  test('functionFailed answers 504 when the function timed out and 502 otherwise', () => {
    const timedOut = functionFailed('fn', 'Sandbox.Timedout', 'rid');
    expect(timedOut.statusCode).toBe(504);
    const failed = functionFailed('fn', 'TypeError', 'rid');
    expect(failed.statusCode).toBe(502);
    const body = JSON.parse(failed.body.toString()) as { message: string; reason: string };
    expect(body.message).toBe('Internal Server Error');
    expect(body.reason).toContain('TypeError');
    expect(body.reason).toContain('stratus invoke fn --log');
    expect(body.reason).toContain('rid');
  });

  test.each([
    ['Timeout', 504],
    ['ServiceUnavailable', 503],
    ['AgentLost', 502],
    ['FunctionNotFound', 500],
    ['PayloadTooLarge', 413],
    ['Unauthenticated', 401],
    ['InvalidRequest', 400],
    ['InvalidRequestContent', 400],
  ] as const)('httpStatusFor maps %s to %i when the invocation fails that way', (code, status) => {
    expect(httpStatusFor(code)).toBe(status);
  });
});
