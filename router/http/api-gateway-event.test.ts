import { buildEvent, clfTime, collectHeaders, encodeBody, isTextContent, parseQueryString, splitUrl, type GatewayRequest } from './api-gateway-event';

const TIME = Date.UTC(2020, 2, 12, 19, 3, 58, 390);

function request(overrides: Partial<GatewayRequest> = {}): GatewayRequest {
  return {
    method: 'post',
    rawPath: '/my/path',
    rawQueryString: 'parameter1=value1&parameter1=value2&parameter2=value',
    protocol: 'HTTP/1.1',
    rawHeaders: ['Host', 'id.execute-api.local:8080', 'User-Agent', 'agent', 'Header2', 'value1', 'header2', 'value2', 'Cookie', 'cookie1=a; cookie2=b', 'Content-Type', 'text/plain'],
    body: Buffer.from('Hello from Lambda'),
    sourceIp: '192.0.2.1',
    requestId: 'req-1',
    timeMs: TIME,
    ...overrides,
  };
}

describe('buildEvent', () => {
  test('buildEvent produces the payload format 2.0 shape when given a full request', () => {
    const event = buildEvent(request(), { routeKey: 'POST /my/{p}', pathParameters: { p: 'path' }, accountId: '000000000000', apiId: 'stratus' });
    expect(event).toEqual({
      version: '2.0',
      routeKey: 'POST /my/{p}',
      rawPath: '/my/path',
      rawQueryString: 'parameter1=value1&parameter1=value2&parameter2=value',
      cookies: ['cookie1=a', 'cookie2=b'],
      headers: { host: 'id.execute-api.local:8080', 'user-agent': 'agent', header2: 'value1,value2', 'content-type': 'text/plain' },
      queryStringParameters: { parameter1: 'value1,value2', parameter2: 'value' },
      requestContext: {
        accountId: '000000000000',
        apiId: 'stratus',
        domainName: 'id.execute-api.local:8080',
        domainPrefix: 'id',
        http: { method: 'POST', path: '/my/path', protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'agent' },
        requestId: 'req-1',
        routeKey: 'POST /my/{p}',
        stage: '$default',
        time: '12/Mar/2020:19:03:58 +0000',
        timeEpoch: TIME,
      },
      body: 'Hello from Lambda',
      pathParameters: { p: 'path' },
      isBase64Encoded: false,
    });
  });

  test('buildEvent leaves out cookies, query parameters, path parameters and body when the request has none', () => {
    const event = buildEvent(request({ rawQueryString: '', rawHeaders: ['Host', 'localhost'], body: Buffer.alloc(0) }), { routeKey: '$default', pathParameters: {}, accountId: 'a', apiId: 'b' });
    expect(Object.keys(event)).toEqual(['version', 'routeKey', 'rawPath', 'rawQueryString', 'headers', 'requestContext', 'isBase64Encoded']);
    expect(event.isBase64Encoded).toBe(false);
    expect(event.requestContext.http.userAgent).toBe('');
  });

  test('buildEvent base64-encodes the body when the content type is not text', () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const event = buildEvent(request({ rawHeaders: ['Content-Type', 'image/png'], body: bytes }), { routeKey: '$default', pathParameters: {}, accountId: 'a', apiId: 'b' });
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body ?? '', 'base64')).toEqual(bytes);
  });
});

describe('event pieces', () => {
  test('collectHeaders lower-cases names, joins repeats with commas and gathers every Cookie header when headers repeat', () => {
    expect(collectHeaders(['X-A', '1', 'x-a', '2', 'COOKIE', 'a=1;b=2', 'Cookie', ' c=3 ', 'X-B', ''])).toEqual({ headers: { 'x-a': '1,2', 'x-b': '' }, cookies: ['a=1', 'b=2', 'c=3'] });
  });

  test('collectHeaders keeps names such as __proto__ and constructor as plain keys when a client sends them', () => {
    const { headers } = collectHeaders(['__proto__', 'x', 'constructor', 'y']);
    expect(Object.getOwnPropertyDescriptor(headers, '__proto__')?.value).toBe('x');
    expect(headers.constructor).toBe('y');
  });

  test('parseQueryString decodes values and joins repeats with commas when a parameter repeats', () => {
    expect(parseQueryString('a=1&a=2&b=x%20y&c=1+2&flag')).toEqual({ a: '1,2', b: 'x y', c: '1 2', flag: '' });
    expect(parseQueryString('')).toBeUndefined();
  });

  test('splitUrl separates the raw path and raw query string when the url has a query', () => {
    expect(splitUrl('/a/b?x=1&y=%20')).toEqual({ rawPath: '/a/b', rawQueryString: 'x=1&y=%20' });
    expect(splitUrl('/a')).toEqual({ rawPath: '/a', rawQueryString: '' });
    expect(splitUrl('/a?')).toEqual({ rawPath: '/a', rawQueryString: '' });
  });

  test('clfTime formats in UTC when given epoch milliseconds', () => {
    expect(clfTime(Date.UTC(2024, 0, 5, 3, 4, 5))).toBe('05/Jan/2024:03:04:05 +0000');
  });

  test.each([
    ['text/html; charset=utf-8', undefined, true],
    ['application/json', undefined, true],
    ['application/vnd.api+json', undefined, true],
    ['application/x-www-form-urlencoded', undefined, true],
    ['image/svg+xml', undefined, true],
    ['application/octet-stream', undefined, false],
    ['image/png', undefined, false],
    [undefined, undefined, false],
    ['application/json', 'gzip', false],
    ['text/plain', 'identity', true],
  ])('isTextContent says %s (encoding %s) is text: %s', (type, encoding, text) => {
    expect(isTextContent(type, encoding)).toBe(text);
  });

  test('encodeBody base64-encodes a text body when it is not valid UTF-8', () => {
    const bad = Buffer.from([0xc3, 0x28]);
    expect(encodeBody(bad, { 'content-type': 'text/plain' })).toEqual({ body: bad.toString('base64'), isBase64Encoded: true });
    expect(encodeBody(Buffer.from('héllo'), { 'content-type': 'text/plain' })).toEqual({ body: 'héllo', isBase64Encoded: false });
  });
});
