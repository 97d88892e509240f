import { invocationRecord, payloadFormat } from './invocation-record';

const base = { requestId: 'r-1', functionArn: 'arn:aws:lambda:local:000000000000:function:f:$LATEST', condition: 'RetriesExhausted' as const, approximateInvokeCount: 3 };

test('payloadFormat says json when the bytes parse as JSON, including a bare JSON string', () => {
  expect(payloadFormat(Buffer.from('{"a":1}'))).toBe('json');
  expect(payloadFormat(Buffer.from('"just text"'))).toBe('json');
  expect(payloadFormat(Buffer.from('42'))).toBe('json');
});

test('payloadFormat says text when the bytes are empty or not JSON', () => {
  expect(payloadFormat(Buffer.alloc(0))).toBe('text');
  expect(payloadFormat(Buffer.from('not json'))).toBe('text');
});

test('invocationRecord keeps a JSON string and plain text alike as strings when it embeds the request', () => {
  // Why payloadFormat exists: the record alone cannot tell these two events apart.
  expect(invocationRecord({ ...base, requestPayload: Buffer.from('"x"') }).requestPayload).toBe('x');
  expect(invocationRecord({ ...base, requestPayload: Buffer.from('x') }).requestPayload).toBe('x');
});
