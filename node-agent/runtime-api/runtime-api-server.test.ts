/**
 * Drives the Runtime API server over real HTTP on loopback, as a runtime's bootstrap would.
 */
import * as http from 'node:http';
import { RuntimeApiServer, type RuntimeApiListener, type RuntimeErrorReport, type RuntimeEvent } from './runtime-api-server';

const PREFIX = '/2018-06-01/runtime';
const MAX_BODY = 6 * 1024 * 1024 + 100;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Records every listener call and lets a test wait for one. */
class RecordingListener implements RuntimeApiListener {
  nexts = 0;
  readonly responses: Array<{ requestId: string; body: Buffer }> = [];
  readonly errors: Array<{ requestId: string; report: RuntimeErrorReport }> = [];
  readonly initErrors: RuntimeErrorReport[] = [];
  private readonly wakers = new Set<() => void>();

  onNext(): void {
    this.nexts += 1;
    this.wake();
  }
  onResponse(requestId: string, body: Buffer): void {
    this.responses.push({ requestId, body });
    this.wake();
  }
  onError(requestId: string, report: RuntimeErrorReport): void {
    this.errors.push({ requestId, report });
    this.wake();
  }
  onInitError(report: RuntimeErrorReport): void {
    this.initErrors.push(report);
    this.wake();
  }

  /** Resolves once `predicate` holds, checking after every listener call. */
  async until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    if (predicate()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wakers.delete(check);
        reject(new Error('listener condition not met in time'));
      }, timeoutMs);
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.wakers.delete(check);
        resolve();
      };
      this.wakers.add(check);
    });
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }
}

let server: RuntimeApiServer;
let listener: RecordingListener;
let address: string;

beforeEach(async () => {
  listener = new RecordingListener();
  server = new RuntimeApiServer(listener);
  address = await server.listen();
});

afterEach(() => {
  server.close();
});

function request(method: string, path: string, body?: Buffer | string, headers: http.OutgoingHttpHeaders = {}): Promise<Reply> {
  const [host, port] = address.split(':');
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const next = (): Promise<Reply> => request('GET', `${PREFIX}/invocation/next`);
const post = (path: string, body: Buffer | string, headers: http.OutgoingHttpHeaders = {}): Promise<Reply> =>
  request('POST', `${PREFIX}${path}`, body, headers);
const json = (r: Reply): unknown => JSON.parse(r.body.toString('utf8'));

function event(overrides: Partial<RuntimeEvent> = {}): RuntimeEvent {
  return {
    requestId: '52fdfc07-2182-454f-963f-5f0f9a621d72',
    payload: Buffer.from('{"hello":"world"}'),
    deadlineMs: 1_700_000_003_000,
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:echo',
    ...overrides,
  };
}

/** Delivers `ev` and takes it with a `next`, leaving it as the active invocation. */
async function start(ev: RuntimeEvent = event()): Promise<Reply> {
  server.deliver(ev);
  const reply = await next();
  expect(reply.status).toBe(200);
  return reply;
}

describe('RuntimeApiServer next', () => {
  test('next receives a delivered event with every Lambda header when the runtime is already polling', async () => {
    const polling = next();
    await listener.until(() => listener.nexts === 1);
    server.deliver(
      event({
        xrayTraceId: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        tracestate: 'vendor=value',
        clientContext: '{"custom":{"k":"v"}}',
      }),
    );
    const reply = await polling;
    expect(reply.status).toBe(200);
    expect(reply.body.toString()).toBe('{"hello":"world"}');
    expect(reply.headers).toMatchObject({
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': '52fdfc07-2182-454f-963f-5f0f9a621d72',
      'lambda-runtime-deadline-ms': '1700000003000',
      'lambda-runtime-invoked-function-arn': 'arn:aws:lambda:us-east-1:000000000000:function:echo',
      'lambda-runtime-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      'lambda-runtime-client-context': '{"custom":{"k":"v"}}',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'vendor=value',
    });
  });

  test('next receives a queued event at once when it was delivered before the poll', async () => {
    server.deliver(event({ payload: Buffer.from('"queued"') }));
    const reply = await next();
    expect(reply.body.toString()).toBe('"queued"');
    expect(listener.nexts).toBe(1);
  });

  test('next leaves optional headers out when the event has no trace or client context', async () => {
    const reply = await start();
    expect(reply.headers['lambda-runtime-trace-id']).toBeUndefined();
    expect(reply.headers['lambda-runtime-client-context']).toBeUndefined();
    expect(reply.headers.traceparent).toBeUndefined();
  });

  test('next answers 403 when another next is already pending', async () => {
    const first = next();
    await listener.until(() => listener.nexts === 1);
    const second = await next();
    expect(second.status).toBe(403);
    expect(json(second)).toMatchObject({ errorType: 'InvalidStateTransition' });
    server.deliver(event());
    expect((await first).status).toBe(200);
  });

  test('next serves an empty payload when the event body is empty', async () => {
    const reply = await start(event({ payload: Buffer.alloc(0) }));
    expect(reply.body.length).toBe(0);
    expect(reply.headers['content-length']).toBe('0');
  });
});

describe('RuntimeApiServer response and error', () => {
  test('response hands the exact body to the listener when the request id is active', async () => {
    await start();
    const body = Buffer.from('{"statusCode":200,"body":"ünïcode"}');
    const reply = await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/response', body);
    expect(reply.status).toBe(202);
    expect(listener.responses).toHaveLength(1);
    expect(listener.responses[0]?.requestId).toBe('52fdfc07-2182-454f-963f-5f0f9a621d72');
    expect(listener.responses[0]?.body.equals(body)).toBe(true);
  });

  test('response answers 400 InvalidRequestID when the request id is not the active one', async () => {
    await start();
    const reply = await post('/invocation/someone-else/response', '"x"');
    expect(reply.status).toBe(400);
    expect(json(reply)).toEqual({ errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' });
    expect(listener.responses).toHaveLength(0);
    // The real invocation can still answer.
    expect((await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/response', '"ok"')).status).toBe(202);
  });

  test('response answers 400 InvalidRequestID when the invocation was already answered', async () => {
    await start();
    expect((await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/response', '"1"')).status).toBe(202);
    expect((await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/response', '"2"')).status).toBe(400);
    expect(listener.responses).toHaveLength(1);
  });

  test('response answers 400 InvalidRequestID when no invocation is active', async () => {
    const reply = await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/response', '"x"');
    expect(reply.status).toBe(400);
    expect(json(reply)).toMatchObject({ errorType: 'InvalidRequestID' });
  });

  test('response answers 400 without crashing when the request id is malformed percent-encoding', async () => {
    await start();
    const reply = await post('/invocation/%E0%A4%A/response', '"x"');
    expect(reply.status).toBe(400);
    expect(json(reply)).toMatchObject({ errorType: 'InvalidRequestID' });
    expect((await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/response', '"ok"')).status).toBe(202);
  });

  test('error parses a Python-shaped body with stackTrace when the runtime posts one', async () => {
    await start();
    const body = JSON.stringify({
      errorMessage: 'division by zero',
      errorType: 'ZeroDivisionError',
      requestId: '52fdfc07-2182-454f-963f-5f0f9a621d72',
      stackTrace: ['  File "/var/task/app.py", line 2, in handler\n    return 1 / 0\n'],
    });
    const reply = await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/error', body, {
      'lambda-runtime-function-error-type': 'Unhandled',
    });
    expect(reply.status).toBe(202);
    expect(listener.errors).toHaveLength(1);
    const { requestId, report } = listener.errors[0]!;
    expect(requestId).toBe('52fdfc07-2182-454f-963f-5f0f9a621d72');
    expect(report).toMatchObject({
      errorType: 'ZeroDivisionError',
      errorMessage: 'division by zero',
      stackTrace: ['  File "/var/task/app.py", line 2, in handler\n    return 1 / 0\n'],
    });
    // A body that names its errorType is returned to the caller unchanged.
    expect(report.body.toString()).toBe(body);
  });

  test('error parses a Node-shaped body with trace when the runtime posts one', async () => {
    await start();
    const body = JSON.stringify({ errorType: 'TypeError', errorMessage: 'x is not a function', trace: ['TypeError: x is not a function', '    at handler (/var/task/index.js:3:9)'] });
    const reply = await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/error', body, {
      'lambda-runtime-function-error-type': 'TypeError',
    });
    expect(reply.status).toBe(202);
    expect(listener.errors[0]?.report).toMatchObject({
      errorType: 'TypeError',
      errorMessage: 'x is not a function',
      stackTrace: ['TypeError: x is not a function', '    at handler (/var/task/index.js:3:9)'],
    });
  });

  test('error accepts the post when the error type header is missing', async () => {
    await start();
    const reply = await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/error', JSON.stringify({ errorMessage: 'no type given' }));
    expect(reply.status).toBe(202);
    const report = listener.errors[0]!.report;
    expect(report).toMatchObject({ errorType: 'Runtime.Unknown', errorMessage: 'no type given', stackTrace: [] });
    expect(JSON.parse(report.body.toString())).toEqual({ errorType: 'Runtime.Unknown', errorMessage: 'no type given', trace: [] });
  });

  test('error takes the type from the header when the body is not JSON', async () => {
    await start();
    const reply = await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/error', 'segfault!', {
      'lambda-runtime-function-error-type': 'Runtime.ExitError',
    });
    expect(reply.status).toBe(202);
    expect(listener.errors[0]?.report).toMatchObject({ errorType: 'Runtime.ExitError', errorMessage: '', stackTrace: [] });
  });

  test.each(['null', '42', '"just a string"', '[1,2]', ''])('error accepts the post without crashing when the body is %j', async (body) => {
    await start();
    const reply = await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/error', body, {
      'lambda-runtime-function-error-type': 'Custom.Odd',
    });
    expect(reply.status).toBe(202);
    expect(listener.errors[0]?.report).toMatchObject({ errorType: 'Custom.Odd', errorMessage: '', stackTrace: [] });
  });

  test('error answers 400 InvalidRequestID when the request id is wrong', async () => {
    await start();
    const reply = await post('/invocation/wrong/error', '{}');
    expect(reply.status).toBe(400);
    expect(listener.errors).toHaveLength(0);
  });

  test('response answers 413 and the listener gets Function.ResponseSizeTooLarge when the body is over the limit', async () => {
    await start();
    const reply = await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/response', Buffer.alloc(MAX_BODY + 1024, 0x61));
    expect(reply.status).toBe(413);
    expect(json(reply)).toMatchObject({ errorType: 'RequestEntityTooLarge' });
    expect(listener.responses).toHaveLength(0);
    expect(listener.errors).toHaveLength(1);
    const { requestId, report } = listener.errors[0]!;
    expect(requestId).toBe('52fdfc07-2182-454f-963f-5f0f9a621d72');
    expect(report.errorType).toBe('Function.ResponseSizeTooLarge');
    expect(JSON.parse(report.body.toString())).toMatchObject({ errorType: 'Function.ResponseSizeTooLarge' });
    // The invocation is over: a late response for it is refused.
    expect((await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/response', '"late"')).status).toBe(400);
  });

  test('response accepts a body at exactly the limit when it is not over', async () => {
    await start();
    const reply = await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/response', Buffer.alloc(MAX_BODY, 0x61));
    expect(reply.status).toBe(202);
    expect(listener.responses[0]?.body.length).toBe(MAX_BODY);
  });

  test('next clears the active invocation when the runtime polls again without answering', async () => {
    await start();
    const polling = next();
    await listener.until(() => listener.nexts === 2);
    expect((await post('/invocation/52fdfc07-2182-454f-963f-5f0f9a621d72/response', '"late"')).status).toBe(400);
    server.deliver(event({ requestId: 'second' }));
    expect((await polling).headers['lambda-runtime-aws-request-id']).toBe('second');
  });
});

describe('RuntimeApiServer init error and routing', () => {
  test('init/error reaches the listener when init has not finished', async () => {
    const body = JSON.stringify({ errorType: 'Runtime.ImportModuleError', errorMessage: "Cannot find module 'index'", trace: ['Error: Cannot find module'] });
    const reply = await post('/init/error', body, { 'lambda-runtime-function-error-type': 'Runtime.ImportModuleError' });
    expect(reply.status).toBe(202);
    expect(listener.initErrors).toHaveLength(1);
    expect(listener.initErrors[0]).toMatchObject({
      errorType: 'Runtime.ImportModuleError',
      errorMessage: "Cannot find module 'index'",
      stackTrace: ['Error: Cannot find module'],
    });
  });

  test('init/error answers 403 when init already finished with a next', async () => {
    await start();
    const reply = await post('/init/error', JSON.stringify({ errorType: 'Late', errorMessage: 'too late' }));
    expect(reply.status).toBe(403);
    expect(json(reply)).toMatchObject({ errorType: 'InvalidStateTransition' });
    expect(listener.initErrors).toHaveLength(0);
  });

  test('the server answers 404 when the route is unknown', async () => {
    expect((await request('GET', `${PREFIX}/invocation/other`)).status).toBe(404);
    expect((await post('/invocation/x/unknown', '{}')).status).toBe(404);
    expect((await request('PUT', `${PREFIX}/init/error`, '{}')).status).toBe(404);
  });

  test('listen returns a loopback host:port when it starts', () => {
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});
