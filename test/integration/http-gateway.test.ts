/**
 * The HTTP gateway against real processes: nats-server, two routers and an agent. Requests go
 * through `fetch` to a router's HTTP port and reach real functions in the sandbox.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import type { StratusClient } from '../../sdk/client/stratus-client';
import type { FunctionSettings } from '../../sdk/client/types';
import { StratusError } from '../../sdk/core/errors';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { startOtlpCollector, type OtlpCollector } from '../helpers/otlp-collector';
import { waitFor } from '../helpers/ports';
import { distEntry } from '../helpers/stratus-process';

let collector: OtlpCollector;
let cluster: TestCluster;
let client: StratusClient;

beforeAll(async () => {
  collector = await startOtlpCollector();
  const otel = { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' };
  cluster = await startCluster({ routers: 2, agents: 1, routerEnv: otel });
  client = cluster.client();
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
  await collector?.close();
});

/** Base URL of router `i`'s HTTP port. */
const base = (i = 0): string => `http://127.0.0.1:${(cluster.routers[i] as TestCluster['routers'][number]).httpPort}`;

async function deploy(prefix: string, source: string, settings: FunctionSettings = {}): Promise<string> {
  const name = uniqueName(prefix);
  await client.deploy({ name, source: functionDir({ 'index.js': source }), settings: { runtime: 'nodejs', handler: 'index.handler', ...settings } });
  return name;
}

/** A path prefix no other test uses. */
const prefix = (): string => `/${uniqueName('t')}`;

// Returns the event it got (and the trace context Stratus handed it) as a structured response.
const ECHO = `exports.handler = async (event, context) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json', 'x-echo': 'yes' },
  body: JSON.stringify({ event, traceparent: context.traceparent }),
});`;

// Answers in the shape the query's ?kind= asks for.
const SHAPES = `exports.handler = async (event) => {
  const kind = (event.queryStringParameters || {}).kind;
  switch (kind) {
    case 'string': return 'Hello from Lambda!';
    case 'object': return { message: 'Hello', n: 1 };
    case 'number': return 42;
    case 'cookies': return { statusCode: 200, cookies: ['a=1; Path=/', 'b=2; HttpOnly'], headers: { 'x-multi': 'v1,v2' }, body: 'with cookies' };
    case 'status': return { statusCode: 418, headers: { 'content-type': 'text/plain' }, body: "I'm a teapot" };
    case 'binary': {
      // Echoes the request body's bytes back, reversed, as a binary response.
      const bytes = Buffer.from(event.body || '', event.isBase64Encoded ? 'base64' : 'utf8').reverse();
      return { statusCode: 200, headers: { 'content-type': 'application/octet-stream' }, body: bytes.toString('base64'), isBase64Encoded: true };
    }
    case 'malformed': return { statusCode: 'teapot' };
    case 'throw': throw new TypeError('secret detail that must not leak');
    default: return { statusCode: 400, body: 'unknown kind' };
  }
};`;

interface Echoed {
  event: {
    version: string;
    routeKey: string;
    rawPath: string;
    rawQueryString: string;
    cookies?: string[];
    headers: Record<string, string>;
    queryStringParameters?: Record<string, string>;
    pathParameters?: Record<string, string>;
    requestContext: { http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string }; routeKey: string; stage: string; time: string; timeEpoch: number; requestId: string; accountId: string; apiId: string; domainName: string };
    body?: string;
    isBase64Encoded: boolean;
  };
  traceparent?: string;
}

let echo: string;
let shapes: string;
beforeAll(async () => {
  echo = await deploy('http-echo', ECHO);
  shapes = await deploy('http-shapes', SHAPES);
}, 60_000);

describe('requests become payload format 2.0 events', () => {
  test('the event carries path parameters, query strings, lower-cased headers and cookies when a route matches', async () => {
    const p = prefix();
    await client.createRoute('GET', `${p}/users/{id}/files/{path+}`, echo);
    const res = await fetch(`${base()}${p}/users/42/files/a/b%20c.txt?tag=x&tag=y&q=hello%20world`, {
      headers: { 'X-Custom': 'one', Cookie: 'session=abc; theme=dark', 'User-Agent': 'gateway-test' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-echo')).toBe('yes');
    expect(res.headers.get('apigw-requestid')).toBeTruthy();
    const { event } = (await res.json()) as Echoed;
    expect(event.version).toBe('2.0');
    expect(event.routeKey).toBe(`GET ${p}/users/{id}/files/{path+}`);
    expect(event.rawPath).toBe(`${p}/users/42/files/a/b%20c.txt`);
    expect(event.rawQueryString).toBe('tag=x&tag=y&q=hello%20world');
    expect(event.pathParameters).toEqual({ id: '42', path: 'a/b c.txt' });
    expect(event.queryStringParameters).toEqual({ tag: 'x,y', q: 'hello world' });
    expect(event.headers['x-custom']).toBe('one');
    expect(event.headers.cookie).toBeUndefined();
    expect(event.cookies).toEqual(['session=abc', 'theme=dark']);
    expect(event.requestContext).toMatchObject({
      http: { method: 'GET', path: `${p}/users/42/files/a/b%20c.txt`, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'gateway-test' },
      routeKey: `GET ${p}/users/{id}/files/{path+}`,
      stage: '$default',
      accountId: '000000000000',
      apiId: 'stratus',
      requestId: res.headers.get('apigw-requestid'),
    });
    expect(event.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(Math.abs(event.requestContext.timeEpoch - Date.now())).toBeLessThan(60_000);
    expect(event.isBase64Encoded).toBe(false);
    expect(event.body).toBeUndefined();
  });

  test('the event carries a text body as is and a binary body base64-encoded when the content type says which', async () => {
    const p = prefix();
    await client.createRoute('POST', `${p}/upload`, echo);
    const text = await fetch(`${base()}${p}/upload`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"héllo":"wörld"}' });
    const textEvent = ((await text.json()) as Echoed).event;
    expect(textEvent.isBase64Encoded).toBe(false);
    expect(textEvent.body).toBe('{"héllo":"wörld"}');

    const bytes = Buffer.from([0, 1, 2, 3, 254, 255, 0x89, 0x50]);
    const binary = await fetch(`${base()}${p}/upload`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    const binaryEvent = ((await binary.json()) as Echoed).event;
    expect(binaryEvent.isBase64Encoded).toBe(true);
    expect(Buffer.from(binaryEvent.body ?? '', 'base64')).toEqual(bytes);
  });

  test('route selection prefers exact paths over parameters over greedy paths, and methods over ANY, when several routes match', async () => {
    const p = prefix();
    const exact = await deploy('http-exact', 'exports.handler = async () => "exact";');
    const param = await deploy('http-param', 'exports.handler = async () => "param";');
    const greedy = await deploy('http-greedy', 'exports.handler = async () => "greedy";');
    const anyFn = await deploy('http-any', 'exports.handler = async () => "any";');
    await client.createRoute('GET', `${p}/users/me`, exact);
    await client.createRoute('GET', `${p}/users/{id}`, param);
    await client.createRoute('ANY', `${p}/{proxy+}`, greedy);
    await client.createRoute('ANY', `${p}/users/{id}`, anyFn);
    const text = async (method: string, path: string): Promise<string> => (await fetch(`${base()}${p}${path}`, { method })).text();
    expect(await text('GET', '/users/me')).toBe('exact');
    expect(await text('GET', '/users/7')).toBe('param');
    expect(await text('DELETE', '/users/7')).toBe('any');
    expect(await text('GET', '/users/7/more')).toBe('greedy');
  });
});

describe('function results become HTTP responses', () => {
  let p: string;
  beforeAll(async () => {
    p = prefix();
    await client.createRoute('ANY', `${p}/shapes`, shapes);
  });
  const call = (kind: string, init: RequestInit = {}): Promise<Response> => fetch(`${base()}${p}/shapes?kind=${kind}`, init);

  test('a structured result sets the status, headers and body when it has a statusCode', async () => {
    const res = await call('status');
    expect(res.status).toBe(418);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toBe("I'm a teapot");
  });

  test('each cookie in the result becomes its own Set-Cookie header when the result has cookies', async () => {
    const res = await call('cookies');
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    expect(res.headers.get('x-multi')).toBe('v1,v2');
    expect(await res.text()).toBe('with cookies');
  });

  test('a bare value is sent as 200 JSON, a string without quotes, when the result has no statusCode', async () => {
    const obj = await call('object');
    expect(obj.status).toBe(200);
    expect(obj.headers.get('content-type')).toBe('application/json');
    expect(await obj.json()).toEqual({ message: 'Hello', n: 1 });
    const str = await call('string');
    expect(str.status).toBe(200);
    expect(await str.text()).toBe('Hello from Lambda!');
    expect(await (await call('number')).text()).toBe('42');
  });

  test('binary bodies survive both ways when the request and the result are binary', async () => {
    const bytes = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 7) % 256));
    const res = await call('binary', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from(bytes).reverse());
  });
});

describe('errors', () => {
  let p: string;
  beforeAll(async () => {
    p = prefix();
    await client.createRoute('ANY', `${p}/shapes`, shapes);
  });

  test('the gateway answers 502 without the function error message when the function throws', async () => {
    const res = await fetch(`${base()}${p}/shapes?kind=throw`);
    expect(res.status).toBe(502);
    const body = (await res.json()) as { message: string; reason: string; requestId: string };
    expect(body.message).toBe('Internal Server Error');
    expect(body.reason).toContain('TypeError');
    expect(body.reason).toContain(`stratus invoke ${shapes} --log`);
    expect(body.reason).toContain(body.requestId);
    expect(JSON.stringify(body)).not.toContain('secret detail');
    expect(body.requestId).toBe(res.headers.get('apigw-requestid'));
  });

  test('the gateway answers 502 when the function returns a malformed response', async () => {
    const res = await fetch(`${base()}${p}/shapes?kind=malformed`);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { reason: string }).reason).toMatch(/malformed.*statusCode/);
  });

  test('the gateway answers 504 when the function runs past its timeout', async () => {
    const slow = await deploy('http-slow', 'exports.handler = async () => { await new Promise((r) => setTimeout(r, 5000)); return "late"; };', { timeoutSeconds: 1 });
    const sp = prefix();
    await client.createRoute('GET', `${sp}/slow`, slow);
    const res = await fetch(`${base()}${sp}/slow`);
    expect(res.status).toBe(504);
    const body = (await res.json()) as { message: string; reason: string };
    expect(body.message).toBe('Gateway Timeout');
    expect(body.reason).toMatch(/timeout/);
  });

  test('the gateway answers 404 Not Found when no route matches', async () => {
    const res = await fetch(`${base()}${prefix()}/nothing/here`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ message: 'Not Found' });
    const noUrl = await fetch(`${base()}/fn/${shapes}/`);
    expect(noUrl.status).toBe(404);
  });

  test('the gateway answers 500 naming the function when a route points at a deleted function', async () => {
    const doomed = await deploy('http-doomed', 'exports.handler = async () => "ok";');
    const dp = prefix();
    await client.createRoute('GET', `${dp}/doomed`, doomed);
    await client.deleteFunction(doomed);
    await waitFor('the deletion to reach the router', async () => (await fetch(`${base()}${dp}/doomed`)).status === 500, 10_000, 100);
    const body = (await (await fetch(`${base()}${dp}/doomed`)).json()) as { message: string; code: string; reason: string };
    expect(body).toMatchObject({ message: 'Internal Server Error', code: 'FunctionNotFound' });
    expect(body.reason).toContain(doomed);
  });

  test('the gateway answers 413 when the request body is over 6 MB', async () => {
    const res = await fetch(`${base()}${p}/shapes?kind=object`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(7 * 1024 * 1024, 1) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { message: string }).message).toBe('Request Entity Too Large');
  });

  test('the gateway answers 413 when a body sent without a length grows past 6 MB', async () => {
    const chunk = new Uint8Array(1024 * 1024).fill(7);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 8) return controller.close();
        sent += 1;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${base()}${p}/shapes?kind=object`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { reason: string }).reason).toMatch(/over the 6291456-byte limit/);
  });

  test('the gateway answers 413 when a binary body grows past 6 MB in base64', async () => {
    const res = await fetch(`${base()}${p}/shapes?kind=object`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(5 * 1024 * 1024, 1) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { reason: string }).reason).toMatch(/base64/);
  });
});

describe('auth', () => {
  test('a token route answers 401 without a token or with a wrong one, and 200 with an API token', async () => {
    const p = prefix();
    await client.createRoute('GET', `${p}/private`, echo, { auth: 'token' });
    const none = await fetch(`${base()}${p}/private`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(((await none.json()) as { message: string }).message).toBe('Unauthorized');
    expect((await fetch(`${base()}${p}/private`, { headers: { authorization: 'Bearer not-the-token' } })).status).toBe(401);
    const ok = await fetch(`${base()}${p}/private`, { headers: { authorization: `Bearer ${cluster.apiToken}` } });
    expect(ok.status).toBe(200);
    // The platform token was the gateway's to check, not the function's to see.
    expect(((await ok.json()) as Echoed).event.headers.authorization).toBeUndefined();
  });

  test('a function URL needs a token by default and opens to anyone when set to none', async () => {
    const url = await client.putFunctionUrl(echo);
    expect(url).toMatchObject({ functionName: echo, auth: 'token', path: `/fn/${echo}/` });
    expect(url.url).toBe(`${base()}/fn/${echo}/`);
    expect((await fetch(`${base()}/fn/${echo}/orders/9?x=1`)).status).toBe(401);
    const authed = await fetch(`${base()}/fn/${echo}/orders/9?x=1`, { method: 'POST', headers: { authorization: `Bearer ${cluster.apiToken}`, 'content-type': 'text/plain' }, body: 'hi' });
    expect(authed.status).toBe(200);
    const { event } = (await authed.json()) as Echoed;
    expect(event).toMatchObject({ routeKey: '$default', rawPath: '/orders/9', rawQueryString: 'x=1', body: 'hi', requestContext: { apiId: echo, http: { method: 'POST', path: '/orders/9' } } });

    await client.putFunctionUrl(echo, { auth: 'none' });
    const open = await fetch(`${base()}/fn/${echo}`);
    expect(open.status).toBe(200);
    expect(((await open.json()) as Echoed).event.rawPath).toBe('/');
    expect((await client.getFunctionUrl(echo)).auth).toBe('none');

    await client.deleteFunctionUrl(echo);
    expect((await fetch(`${base()}/fn/${echo}/`)).status).toBe(404);
  });
});

describe('route management', () => {
  test('a route created through router 1 is served by router 2 when both share NATS', async () => {
    const p = prefix();
    const viaRouter1 = cluster.client({}, [cluster.routers[0] as TestCluster['routers'][number]]);
    await viaRouter1.createRoute('GET', `${p}/shared`, shapes);
    // Router 1 applies its own write at once; router 2 learns it from the KV watch.
    expect((await fetch(`${base(0)}${p}/shared?kind=string`)).status).toBe(200);
    await waitFor('router 2 to serve the route', async () => (await fetch(`${base(1)}${p}/shared?kind=string`)).status === 200, 10_000, 50);
    expect(await (await fetch(`${base(1)}${p}/shared?kind=string`)).text()).toBe('Hello from Lambda!');
    const route = (await viaRouter1.listRoutes()).find((r) => r.path === `${p}/shared`);
    expect(route).toBeDefined();
    await viaRouter1.deleteRoute(route?.id ?? '');
    await waitFor('router 2 to drop the route', async () => (await fetch(`${base(1)}${p}/shared?kind=string`)).status === 404, 10_000, 50);
  });

  test('creating a route is idempotent when the target is the same and a conflict when it differs', async () => {
    const p = prefix();
    const first = await client.createRoute('PUT', `${p}/same`, shapes);
    const again = await client.createRoute('put', `${p}/same/`.slice(0, -1), shapes);
    expect(again).toEqual(first);
    const err = await client.createRoute('PUT', `${p}/same`, echo).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StratusError);
    expect((err as StratusError).code).toBe('ResourceConflict');
    expect((err as StratusError).message).toContain(`stratus routes rm ${first.id}`);
  });

  test('creating a route fails with FunctionNotFound and InvalidRequest when the function or path is wrong', async () => {
    const missing = await client.createRoute('GET', `${prefix()}/x`, uniqueName('missing')).catch((e: unknown) => e);
    expect((missing as StratusError).code).toBe('FunctionNotFound');
    const bad = await client.createRoute('GET', 'no-slash', shapes).catch((e: unknown) => e);
    expect((bad as StratusError).code).toBe('InvalidRequest');
    const gone = await client.deleteRoute('0123456789ab').catch((e: unknown) => e);
    expect((gone as StratusError).code).toBe('ResourceNotFound');
  });
});

describe('handlers written for API Gateway run unchanged', () => {
  // AWS's "CRUD API with Lambda and DynamoDB" HTTP API tutorial handler, with its DynamoDB
  // client swapped for a Map (state lives as long as the warm instance): the routing on
  // event.routeKey, pathParameters and body is as published.
  const CRUD = `
const items = new Map();
exports.handler = async (event, context) => {
  let body;
  let statusCode = 200;
  const headers = { "Content-Type": "application/json" };
  try {
    switch (event.routeKey) {
      case "DELETE /items/{id}":
        items.delete(event.pathParameters.id);
        body = \`Deleted item \${event.pathParameters.id}\`;
        break;
      case "GET /items/{id}":
        body = items.get(event.pathParameters.id);
        break;
      case "GET /items":
        body = [...items.values()];
        break;
      case "PUT /items":
        let requestJSON = JSON.parse(event.body);
        items.set(requestJSON.id, { id: requestJSON.id, price: requestJSON.price, name: requestJSON.name });
        body = \`Put item \${requestJSON.id}\`;
        break;
      default:
        throw new Error(\`Unsupported route: "\${event.routeKey}"\`);
    }
  } catch (err) {
    statusCode = 400;
    body = err.message;
  } finally {
    body = JSON.stringify(body);
  }
  return { statusCode, body, headers };
};`;

  // A hand-rolled router of the kind found in many Lambda web handlers.
  const WEB = `
exports.handler = async (event) => {
  const method = event.requestContext.http.method;
  const q = event.queryStringParameters || {};
  const visits = Number(((event.cookies || []).find((c) => c.startsWith('visits=')) || 'visits=0').split('=')[1]) + 1;
  if (method === 'GET' && event.rawPath.endsWith('/logo.png')) {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    return { statusCode: 200, headers: { 'Content-Type': 'image/png' }, body: png.toString('base64'), isBase64Encoded: true };
  }
  return {
    statusCode: 200,
    headers: { 'Content-Type': 'text/plain' },
    cookies: ['visits=' + visits + '; Path=/'],
    body: method + ' hello ' + (q.name || 'world') + ' #' + visits + ' at ' + (event.pathParameters ? event.pathParameters.page : '-'),
  };
};`;

  test('the AWS CRUD tutorial handler serves its four routes when they are mapped to it', async () => {
    const crud = await deploy('http-crud', CRUD);
    for (const [method, path] of [['GET', '/items'], ['GET', '/items/{id}'], ['PUT', '/items'], ['DELETE', '/items/{id}']] as const) {
      await client.createRoute(method, path, crud);
    }
    const put = await fetch(`${base()}/items`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'abc', price: 12, name: 'thing' }) });
    expect(put.status).toBe(200);
    expect(await put.json()).toBe('Put item abc');
    expect(await (await fetch(`${base()}/items/abc`)).json()).toEqual({ id: 'abc', price: 12, name: 'thing' });
    expect(await (await fetch(`${base()}/items`)).json()).toEqual([{ id: 'abc', price: 12, name: 'thing' }]);
    expect(await (await fetch(`${base()}/items/abc`, { method: 'DELETE' })).json()).toBe('Deleted item abc');
    expect(await (await fetch(`${base()}/items`)).json()).toEqual([]);
  });

  test('a hand-rolled web handler reads method, query, cookies and path parameters and returns binary when called', async () => {
    const web = await deploy('http-web', WEB);
    const p = prefix();
    await client.createRoute('ANY', `${p}/pages/{page}`, web);
    await client.createRoute('GET', `${p}/logo.png`, web);
    const res = await fetch(`${base()}${p}/pages/home?name=Ada`, { headers: { cookie: 'visits=2' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('GET hello Ada #3 at home');
    expect(res.headers.getSetCookie()).toEqual(['visits=3; Path=/']);
    const logo = await fetch(`${base()}${p}/logo.png`);
    expect(logo.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await logo.arrayBuffer()).toString('hex')).toBe('89504e470d0a1a0a0000000d49484452');
  });
});

describe('tracing', () => {
  test('the server span continues the caller trace when the request carries a W3C traceparent', async () => {
    const p = prefix();
    await client.createRoute('GET', `${p}/traced`, echo);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentId = '00f067aa0ba902b7';
    const res = await fetch(`${base()}${p}/traced`, { headers: { traceparent: `00-${traceId}-${parentId}-01` } });
    expect(res.status).toBe(200);
    const { traceparent } = (await res.json()) as Echoed;
    // The function runs inside the caller's trace.
    expect(traceparent?.split('-')[1]).toBe(traceId);
    const spans = await collector.waitForSpans('the gateway and placement spans', (all) =>
      ['stratus.placement', `GET ${p}/traced`].every((n) => all.some((s) => s.traceId === traceId && s.name === n)),
    );
    const server = spans.find((s) => s.traceId === traceId && s.name === `GET ${p}/traced`);
    expect(server).toMatchObject({ serviceName: 'stratus-router', kind: 2, parentSpanId: parentId });
    expect(spans.find((s) => s.traceId === traceId && s.name === 'stratus.placement')?.parentSpanId).toBe(server?.spanId);
    expect(server?.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.route': `${p}/traced`, 'stratus.route_key': `GET ${p}/traced`, 'http.response.status_code': 200, 'faas.invoked_name': echo });
  });
});

describe('stratus routes and stratus url', () => {
  const CLI = distEntry('sdk/cli/main.js');
  const stratus = (args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const res = spawnSync(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), STRATUS_ENDPOINT: (cluster.routers[0] as TestCluster['routers'][number]).address, STRATUS_TOKEN: cluster.apiToken },
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: res.status, stdout: res.stdout, stderr: res.stderr };
  };

  test('routes add, ls and rm manage a route when run through the binary', async () => {
    const p = prefix();
    const added = stratus(['routes', 'add', 'get', `${p}/cli/{x}`, shapes, '--auth', 'token']);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(new RegExp(`GET ${p}/cli/\\{x\\} → ${shapes} \\(id [0-9a-f]{12}, auth token\\)`));

    const ls = stratus(['routes', 'ls', '--json']);
    expect(ls.code).toBe(0);
    const listed = JSON.parse(ls.stdout) as { routes: Array<{ id: string; routeKey: string; functionName: string; auth: string }> };
    const route = listed.routes.find((r) => r.routeKey === `GET ${p}/cli/{x}`);
    expect(route).toMatchObject({ functionName: shapes, auth: 'token' });

    const table = stratus(['routes', 'ls']);
    expect(table.stdout).toContain(route?.id);
    expect(table.stdout).toContain('AUTH');

    expect((await fetch(`${base()}${p}/cli/1?kind=string`)).status).toBe(401);
    expect((await fetch(`${base()}${p}/cli/1?kind=string`, { headers: { authorization: `Bearer ${cluster.apiToken}` } })).status).toBe(200);

    const rm = stratus(['routes', 'rm', route?.id ?? '']);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain(`removed route ${route?.id}`);
    expect((await fetch(`${base()}${p}/cli/1?kind=string`)).status).toBe(404);

    const again = stratus(['routes', 'rm', route?.id ?? '']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('ResourceNotFound');
  });

  test('url prints a function URL that works, opens it with --auth none and removes it with --delete', async () => {
    const fn = await deploy('http-cli-url', 'exports.handler = async (event) => ({ path: event.rawPath });');
    const made = stratus(['url', fn]);
    expect(made.code).toBe(0);
    const url = made.stdout.trim();
    expect(url).toBe(`${base()}/fn/${fn}/`);
    expect(made.stderr).toContain('auth token');
    expect((await fetch(`${url}a/b`)).status).toBe(401);
    expect(await (await fetch(`${url}a/b`, { headers: { authorization: `Bearer ${cluster.apiToken}` } })).json()).toEqual({ path: '/a/b' });

    const opened = stratus(['url', fn, '--auth', 'none', '--json']);
    expect(JSON.parse(opened.stdout)).toMatchObject({ functionName: fn, auth: 'none', url });
    expect((await fetch(`${url}c`)).status).toBe(200);

    expect(stratus(['url', fn, '--delete']).code).toBe(0);
    expect((await fetch(`${url}c`)).status).toBe(404);
    const bad = stratus(['url', fn, '--auth', 'maybe']);
    expect(bad.code).toBe(3);
  });
});

describe('throttling', () => {
  let small: TestCluster;
  beforeAll(async () => {
    small = await startCluster({ agents: 1, agentEnv: { STRATUS_AGENT_MAX_INSTANCES: '1' }, routerEnv: { STRATUS_PLACEMENT_WAIT_MS: '200' } });
  }, 60_000);
  afterAll(async () => small?.stop());

  test('the gateway answers 429 with Retry-After in seconds when no instance is free', async () => {
    const c = small.client();
    const name = uniqueName('http-busy');
    await c.deploy({ name, source: functionDir({ 'index.js': 'exports.handler = async () => { await new Promise((r) => setTimeout(r, 2500)); return "done"; };' }), settings: { runtime: 'nodejs', handler: 'index.handler', timeoutSeconds: 10 } });
    await c.createRoute('GET', '/busy', name);
    const url = `http://127.0.0.1:${(small.routers[0] as TestCluster['routers'][number]).httpPort}/busy`;
    // fetch opens a second connection for the second request while the first is in flight.
    const first = fetch(url);
    await new Promise((r) => setTimeout(r, 300));
    const second = await fetch(url);
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('1');
    expect(((await second.json()) as { message: string }).message).toBe('Too Many Requests');
    const firstRes = await first;
    expect(firstRes.status).toBe(200);
    expect(await firstRes.text()).toBe('done');
  });
});
