/**
 * The Node.js runtime's client against the agent's real Runtime API server on loopback: the frame
 * channel must behave exactly as the HTTP Runtime API does.
 */
import { request as httpRequest } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { RuntimeApiServer, type OutputMark, type RuntimeApiListener, type RuntimeErrorReport, type RuntimeEvent } from '../../runtime-api/runtime-api-server';
import { CHANNEL_PATH, CHANNEL_PROTOCOL, encodeFrame, FrameDecoder, FrameType, type Frame } from './frames';
import { RuntimeApiError, RuntimeClient } from './runtime-client';

class Recorder implements RuntimeApiListener {
  nexts = 0;
  readonly responses: Array<{ requestId: string; body: string }> = [];
  readonly marks: Array<OutputMark | undefined> = [];
  readonly errors: Array<{ requestId: string; report: RuntimeErrorReport }> = [];
  onNext(): void {
    this.nexts += 1;
  }
  onResponse(requestId: string, body: Buffer, mark?: OutputMark): void {
    this.responses.push({ requestId, body: body.toString() });
    this.marks.push(mark);
  }
  onError(requestId: string, report: RuntimeErrorReport, mark?: OutputMark): void {
    this.errors.push({ requestId, report });
    this.marks.push(mark);
  }
  onInitError(): void {}
}

const EVENT: RuntimeEvent = {
  requestId: 'req-1',
  payload: Buffer.from('{"hello":"world"}'),
  deadlineMs: 1_900_000_000_000,
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fn',
  xrayTraceId: 'Root=1-abc-def;Parent=123;Sampled=1',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  tracestate: 'k=v',
  clientContext: '{"custom":{}}',
};

let server: RuntimeApiServer;
let listener: Recorder;
let address: string;
beforeEach(async () => {
  listener = new Recorder();
  server = new RuntimeApiServer(listener);
  address = await server.listen();
});
afterEach(() => server.close());

/** Hands `event` to whichever client asks next, and returns what that client received. */
async function receive(client: RuntimeClient, event: RuntimeEvent): Promise<Awaited<ReturnType<RuntimeClient['nextInvocation']>>> {
  const next = client.nextInvocation();
  server.deliver(event);
  return next;
}

const LAMBDA_HEADERS = ['content-type', 'content-length', 'lambda-runtime-aws-request-id', 'lambda-runtime-deadline-ms', 'lambda-runtime-invoked-function-arn', 'lambda-runtime-trace-id', 'traceparent', 'tracestate', 'lambda-runtime-client-context'];

test('runtime client uses the frame channel with the agent and receives the same event headers and body as over HTTP', async () => {
  const frames = new RuntimeClient({ runtimeApi: address });
  const got = await receive(frames, EVENT);
  expect(frames.transport).toBe('frames');
  await frames.postResponse('req-1', '"done"');

  const http = new RuntimeClient({ runtimeApi: address, frameChannel: false });
  const viaHttp = await receive(http, { ...EVENT, requestId: 'req-2' });
  expect(http.transport).toBe('http');

  const pick = (h: Record<string, unknown>, id: string): Record<string, unknown> =>
    Object.fromEntries(LAMBDA_HEADERS.map((k) => [k, k === 'lambda-runtime-aws-request-id' ? id : h[k]]));
  expect(pick(got.headers, 'x')).toEqual(pick(viaHttp.headers, 'x'));
  expect(got.headers['lambda-runtime-aws-request-id']).toBe('req-1');
  expect(got.headers['lambda-runtime-deadline-ms']).toBe('1900000000000');
  expect(got.body.toString()).toBe('{"hello":"world"}');
  expect(listener.nexts).toBe(2);
});

test('runtime client posts results and errors on the frame channel as the HTTP API receives them', async () => {
  const client = new RuntimeClient({ runtimeApi: address });
  await receive(client, EVENT);
  expect(await client.postResponse('req-1', '{"ok":true}')).toEqual({ kind: 'accepted' });
  await receive(client, { ...EVENT, requestId: 'req/2' });
  const payload = { errorType: 'TypeError', errorMessage: 'boom', trace: ['at x'] };
  expect(await client.postInvocationError('req/2', payload)).toEqual({ kind: 'accepted' });
  expect(client.transport).toBe('frames');
  expect(listener.responses).toEqual([{ requestId: 'req-1', body: '{"ok":true}' }]);
  expect(listener.errors).toHaveLength(1);
  expect(listener.errors[0]).toMatchObject({ requestId: 'req/2', report: { errorType: 'TypeError', errorMessage: 'boom', stackTrace: ['at x'] } });
});

test('runtime client on the frame channel is refused with 400 for a request id it does not hold, and carries on', async () => {
  const client = new RuntimeClient({ runtimeApi: address });
  await receive(client, EVENT);
  const refused = await client.postResponse('someone-else', '1');
  expect(refused).toMatchObject({ kind: 'refused', status: 400 });
  expect((refused as { body: string }).body).toContain('InvalidRequestID');
  expect(await client.postResponse('req-1', '2')).toEqual({ kind: 'accepted' });
  expect(listener.responses).toEqual([{ requestId: 'req-1', body: '2' }]);
});

test('runtime client on the frame channel gets 413 for a response over 6 MB, and the invocation fails as Function.ResponseSizeTooLarge', async () => {
  const client = new RuntimeClient({ runtimeApi: address });
  await receive(client, EVENT);
  const big = `"${'x'.repeat(6 * 1024 * 1024 + 200)}"`;
  expect(await client.postResponse('req-1', big)).toMatchObject({ kind: 'refused', status: 413 });
  expect(listener.errors.map((e) => [e.requestId, e.report.errorType])).toEqual([['req-1', 'Function.ResponseSizeTooLarge']]);
  expect(listener.responses).toEqual([]);
  // The channel stays usable for the next event.
  const next = await receive(client, { ...EVENT, requestId: 'req-3' });
  expect(next.headers['lambda-runtime-aws-request-id']).toBe('req-3');
});

test('runtime client fails with RuntimeApiError when the agent closes the frame channel under a waiting next', async () => {
  const client = new RuntimeClient({ runtimeApi: address });
  await receive(client, EVENT);
  await client.postResponse('req-1', '1');
  const waiting = client.nextInvocation();
  await new Promise((r) => setTimeout(r, 20));
  server.close();
  await expect(waiting).rejects.toBeInstanceOf(RuntimeApiError);
  await expect(client.postResponse('req-1', '1')).rejects.toBeInstanceOf(RuntimeApiError);
});

describe('posting and asking for the next event in one step', () => {
  test('postThenNext on the frame channel hands the result over and returns the next event', async () => {
    const client = new RuntimeClient({ runtimeApi: address });
    await receive(client, EVENT);
    const step = client.postThenNext('req-1', { kind: 'response', body: '{"ok":1}' }, () => undefined);
    await new Promise((r) => setTimeout(r, 20));
    expect(listener.responses).toEqual([{ requestId: 'req-1', body: '{"ok":1}' }]);
    server.deliver({ ...EVENT, requestId: 'req-2' });
    const { posted, next } = await step;
    expect(posted).toEqual({ kind: 'accepted' });
    expect(next.headers['lambda-runtime-aws-request-id']).toBe('req-2');
    expect(next.body.toString()).toBe('{"hello":"world"}');
    expect(client.transport).toBe('frames');
    expect(listener.nexts).toBe(2);
  });

  test('postThenNext reports an invocation error as postInvocationError does, then returns the next event', async () => {
    const client = new RuntimeClient({ runtimeApi: address });
    await receive(client, EVENT);
    const step = client.postThenNext('req-1', { kind: 'error', payload: { errorType: 'TypeError', errorMessage: 'boom', trace: ['at x'] } }, () => undefined);
    server.deliver({ ...EVENT, requestId: 'req-2' });
    const { posted, next } = await step;
    expect(posted).toEqual({ kind: 'accepted' });
    expect(next.headers['lambda-runtime-aws-request-id']).toBe('req-2');
    expect(listener.errors.map((e) => [e.requestId, e.report.errorType, e.report.stackTrace])).toEqual([['req-1', 'TypeError', ['at x']]]);
  });

  test('postThenNext returns the refusal and still the next event when the request id is not the one held', async () => {
    const client = new RuntimeClient({ runtimeApi: address });
    await receive(client, EVENT);
    const step = client.postThenNext('someone-else', { kind: 'response', body: '1' }, () => undefined);
    server.deliver({ ...EVENT, requestId: 'req-2' });
    const { posted, next } = await step;
    expect(posted).toMatchObject({ kind: 'refused', status: 400 });
    expect((posted as { body: string }).body).toContain('InvalidRequestID');
    expect(next.headers['lambda-runtime-aws-request-id']).toBe('req-2');
    expect(listener.responses).toEqual([]);
  });

  test('postThenNext of a response over 6 MB is refused with 413, the invocation fails as Function.ResponseSizeTooLarge, and the next event still arrives', async () => {
    const client = new RuntimeClient({ runtimeApi: address });
    await receive(client, EVENT);
    const big = `"${'x'.repeat(6 * 1024 * 1024 + 200)}"`;
    const step = client.postThenNext('req-1', { kind: 'response', body: big }, () => undefined);
    server.deliver({ ...EVENT, requestId: 'req-2' });
    const { posted, next } = await step;
    expect(posted).toMatchObject({ kind: 'refused', status: 413 });
    expect(listener.errors.map((e) => [e.requestId, e.report.errorType])).toEqual([['req-1', 'Function.ResponseSizeTooLarge']]);
    expect(next.headers['lambda-runtime-aws-request-id']).toBe('req-2');
  });

  test('postThenNext over HTTP posts, calls onPosted, then polls: the same outcome as on the frame channel', async () => {
    const client = new RuntimeClient({ runtimeApi: address, frameChannel: false });
    await receive(client, EVENT);
    let postedSeen = false;
    const step = client.postThenNext('req-1', { kind: 'response', body: '"r"' }, () => (postedSeen = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(postedSeen).toBe(true);
    server.deliver({ ...EVENT, requestId: 'req-2' });
    const { posted, next } = await step;
    expect(posted).toEqual({ kind: 'accepted' });
    expect(next.headers['lambda-runtime-aws-request-id']).toBe('req-2');
    expect(listener.responses).toEqual([{ requestId: 'req-1', body: '"r"' }]);
    expect(client.transport).toBe('http');
  });

  test('the agent answers an accepted RESPONSE_NEXT frame with the next EVENT alone, and a refused one with REPLY then EVENT', async () => {
    // A raw channel, so the frames on the wire are seen exactly.
    const [host, port] = address.split(':');
    const socket = await new Promise<Socket>((resolve, reject) => {
      const req = httpRequest({ host, port: Number(port), path: CHANNEL_PATH, headers: { connection: 'Upgrade', upgrade: CHANNEL_PROTOCOL } });
      req.on('upgrade', (_res, s: Socket) => resolve(s));
      req.on('error', reject);
      req.end();
    });
    const frames: Frame[] = [];
    let wake: (() => void) | undefined;
    const decoder = new FrameDecoder(Number.MAX_SAFE_INTEGER, (f) => {
      frames.push(f);
      wake?.();
    }, () => undefined);
    socket.on('data', (c: Buffer) => decoder.push(c));
    const nextFrame = async (): Promise<Frame> => {
      while (frames.length === 0) await new Promise<void>((r) => (wake = r));
      return frames.shift() as Frame;
    };
    try {
      socket.write(encodeFrame(FrameType.next, {}));
      server.deliver(EVENT);
      expect((await nextFrame()).type).toBe(FrameType.event);
      socket.write(encodeFrame(FrameType.responseNext, { requestId: 'req-1' }, Buffer.from('"a"')));
      await new Promise((r) => setTimeout(r, 20));
      server.deliver({ ...EVENT, requestId: 'req-2' });
      const second = await nextFrame();
      expect([second.type, second.header['lambda-runtime-aws-request-id']]).toEqual([FrameType.event, 'req-2']);
      socket.write(encodeFrame(FrameType.responseNext, { requestId: 'wrong' }, Buffer.from('"b"')));
      const refusal = await nextFrame();
      expect([refusal.type, refusal.header.status]).toEqual([FrameType.reply, 400]);
      server.deliver({ ...EVENT, requestId: 'req-3' });
      expect((await nextFrame()).header['lambda-runtime-aws-request-id']).toBe('req-3');
      expect(listener.responses).toEqual([{ requestId: 'req-1', body: '"a"' }]);
    } finally {
      socket.destroy();
    }
  });
});

describe('the frame channel on an abstract Unix socket', () => {
  const abstractName = (): string => `\0stratus-test-${process.pid}-${Math.random().toString(36).slice(2)}`;

  test('runtime client opens the channel on the socket it is given, not on the TCP address', async () => {
    const name = abstractName();
    await server.listenUnix(name);
    // Port 1 on loopback refuses: an event arriving proves the socket carried the channel.
    const client = new RuntimeClient({ runtimeApi: '127.0.0.1:1', channelSocket: name });
    const got = await receive(client, EVENT);
    expect(client.transport).toBe('frames');
    expect(got.headers['lambda-runtime-aws-request-id']).toBe('req-1');
    const step = client.postThenNext('req-1', { kind: 'response', body: '"s"' }, () => undefined);
    server.deliver({ ...EVENT, requestId: 'req-2' });
    expect((await step).next.headers['lambda-runtime-aws-request-id']).toBe('req-2');
    expect(listener.responses).toEqual([{ requestId: 'req-1', body: '"s"' }]);
  });

  test('runtime client asks for the channel over TCP when nothing listens on the socket', async () => {
    const client = new RuntimeClient({ runtimeApi: address, channelSocket: abstractName() });
    await receive(client, EVENT);
    expect(client.transport).toBe('frames');
  });
});

test('results on the frame channel carry how much the runtime had written to stdout and stderr, for the agent to read up to', async () => {
  let written = { out: 120, err: 7 };
  const client = new RuntimeClient({ runtimeApi: address, outputMark: () => written });
  await receive(client, EVENT);
  const step = client.postThenNext('req-1', { kind: 'response', body: '1' }, () => undefined);
  server.deliver({ ...EVENT, requestId: 'req-2' });
  await step;
  written = { out: 300, err: 9 };
  expect(await client.postInvocationError('req-2', { errorType: 'E', errorMessage: 'm', trace: [] })).toEqual({ kind: 'accepted' });
  expect(listener.marks).toEqual([{ out: 120, err: 7 }, { out: 300, err: 9 }]);
});

test('a connection the agent already serves as a channel (a pre-started runtime\'s assignment connection) is used at once, without an HTTP upgrade', async () => {
  // Two connected sockets, as the agent and a pre-started runtime hold the two ends of its fd 3.
  const name = `\0stratus-test-pair-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const pairServer = createServer();
  await new Promise<void>((r) => pairServer.listen(name, () => r()));
  const agentEnd = new Promise<Socket>((r) => pairServer.once('connection', r));
  const runtimeEnd = connect(name);
  await new Promise<void>((r) => runtimeEnd.once('connect', () => r()));
  server.attachChannel(await agentEnd);
  pairServer.close();
  runtimeEnd.pause();
  // Port 1 refuses: the event can only come through the handed-over connection.
  const client = new RuntimeClient({ runtimeApi: '127.0.0.1:1', openChannel: { socket: runtimeEnd, head: Buffer.alloc(0) } });
  expect(client.transport).toBe('frames');
  const got = await receive(client, EVENT);
  expect(got.headers['lambda-runtime-aws-request-id']).toBe('req-1');
  const step = client.postThenNext('req-1', { kind: 'response', body: '"p"' }, () => undefined);
  server.deliver({ ...EVENT, requestId: 'req-2' });
  expect((await step).next.headers['lambda-runtime-aws-request-id']).toBe('req-2');
  expect(listener.responses).toEqual([{ requestId: 'req-1', body: '"p"' }]);
  runtimeEnd.destroy();
});
