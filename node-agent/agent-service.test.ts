/**
 * Drives the agent's session service over real gRPC on loopback, as a router would, with a
 * scripted `invoke` standing in for the instance pool.
 */
import * as grpc from '@grpc/grpc-js';
import { trace } from '@opentelemetry/api';
import {
  AgentFunctionSpec,
  AgentServiceClient,
  AgentServiceService,
  type AgentInvokeRequest,
  type AgentSessionRequest,
  type AgentSessionResponse,
} from '../proto/gen/stratus/v1/agent';
import { withBearer } from '../sdk/core/wire/bearer';
import { normalizeFunctionConfig, type FunctionRecord } from '../sdk/core/function-config';
import { createLogger } from '../sdk/platform/logger';
import { functionRecordToPb } from '../sdk/core/wire/function-codec';
import type { AgentInvocation, AgentOutcome } from './agent';
import { AgentService } from './agent-service';

const TOKEN = 'cluster-secret';

function record(name: string, revisionId: string): FunctionRecord {
  const { config } = normalizeFunctionConfig({ name, runtime: 'nodejs', handler: 'index.handler' });
  return { config, runtime: 'nodejs', code: { sha256: 'a'.repeat(64), size: 1, unpackedSize: 1, format: 'zip' }, version: '$LATEST', revisionId, lastModifiedMs: 1, layers: [] };
}

function spec(r: FunctionRecord): Buffer {
  return Buffer.from(AgentFunctionSpec.encode({ function: functionRecordToPb(r) }).finish());
}

function request(requestId: string, fn: FunctionRecord): AgentInvokeRequest {
  return { requestId, spec: spec(fn), payload: Buffer.from(`payload-${requestId}`), tailLogs: false, deadlineMs: Date.now() + 10_000, clientContext: '', invokedFunctionArn: '', traceparent: '', tracestate: '', sessionToken: '', apiEndpoint: '' };
}

function completed(payload: Buffer): AgentOutcome {
  return { kind: 'completed', payload, logTail: 'START RequestId: x\n', durationMs: 1, billedDurationMs: 1, maxMemoryUsedMb: 1, coldStart: false };
}

/** Invocations the scripted agent holds until the test releases them. */
const held: Array<{ inv: AgentInvocation; release: (o: AgentOutcome) => void }> = [];
let server: grpc.Server;
let service: AgentService;
let client: AgentServiceClient;

beforeEach(async () => {
  held.length = 0;
  service = new AgentService({
    agent: { invoke: (inv) => new Promise((release) => held.push({ inv, release })) },
    agentId: 'agent-under-test',
    clusterTokens: [TOKEN],
    tracer: trace.getTracer('test'),
    logger: createLogger({ component: 'test' }, { level: 'error' }),
  });
  server = new grpc.Server();
  server.addService(AgentServiceService, service.handlers);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  client = new AgentServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});
afterEach(() => {
  client.close();
  server.forceShutdown();
});

/** Opens a session and collects the frames the agent sends. */
function open(token = TOKEN): { stream: grpc.ClientDuplexStream<AgentSessionRequest, AgentSessionResponse>; frames: AgentSessionResponse[]; ended: Promise<grpc.StatusObject> } {
  const stream = client.session(withBearer(new grpc.Metadata(), token));
  const frames: AgentSessionResponse[] = [];
  stream.on('data', (f: AgentSessionResponse) => frames.push(f));
  stream.on('error', () => undefined);
  const ended = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
  return { stream, frames, ended };
}

async function until(test: () => boolean): Promise<void> {
  const giveUp = Date.now() + 5000;
  while (!test()) {
    if (Date.now() > giveUp) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('agent service says ready first, then answers each invocation under its call id', async () => {
  const fn = record('fn', 'rev-1');
  const { stream, frames } = open();
  await until(() => frames.length === 1);
  expect(frames[0]).toEqual({ callId: 0, frame: { $case: 'ready', value: { agentId: 'agent-under-test' } } });
  stream.write({ callId: 7, frame: { $case: 'invoke', value: request('a', fn) } });
  stream.write({ callId: 9, frame: { $case: 'invoke', value: request('b', fn) } });
  await until(() => held.length === 2);
  expect(held.map((h) => h.inv.payload.toString())).toEqual(['payload-a', 'payload-b']);
  held[1]!.release(completed(Buffer.from('B')));
  held[0]!.release(completed(Buffer.from('A')));
  await until(() => frames.length === 3);
  const answers = frames.slice(1).map((f) => [f.callId, f.frame?.$case === 'response' && f.frame.value.outcome?.$case === 'result' ? f.frame.value.outcome.value.payload.toString() : '?']);
  expect(answers).toEqual([
    [9, 'B'],
    [7, 'A'],
  ]);
  stream.end();
});

test('agent service drops the answer of an invocation the router cancelled', async () => {
  const fn = record('fn', 'rev-1');
  const { stream, frames } = open();
  stream.write({ callId: 1, frame: { $case: 'invoke', value: request('a', fn) } });
  stream.write({ callId: 2, frame: { $case: 'invoke', value: request('b', fn) } });
  await until(() => held.length === 2);
  stream.write({ callId: 1, frame: { $case: 'cancel', value: {} } });
  await new Promise((r) => setTimeout(r, 50));
  held[0]!.release(completed(Buffer.from('A')));
  held[1]!.release(completed(Buffer.from('B')));
  await until(() => frames.length === 2);
  await new Promise((r) => setTimeout(r, 50));
  expect(frames.map((f) => f.callId)).toEqual([0, 2]);
  stream.end();
});

test('agent service aborts the signal of an invocation the router cancelled, and only that one', async () => {
  const fn = record('fn', 'rev-1');
  const { stream } = open();
  stream.write({ callId: 1, frame: { $case: 'invoke', value: request('a', fn) } });
  stream.write({ callId: 2, frame: { $case: 'invoke', value: request('b', fn) } });
  await until(() => held.length === 2);
  expect(held.map((h) => h.inv.signal?.aborted)).toEqual([false, false]);
  stream.write({ callId: 1, frame: { $case: 'cancel', value: {} } });
  await until(() => held[0]!.inv.signal?.aborted === true);
  expect(held[1]!.inv.signal?.aborted).toBe(false);
  for (const h of held) h.release(completed(Buffer.alloc(0)));
  stream.end();
});

test('agent service passes the router\'s deadline to the agent unchanged', async () => {
  const { stream } = open();
  const req = request('a', record('fn', 'rev-1'));
  stream.write({ callId: 1, frame: { $case: 'invoke', value: req } });
  await until(() => held.length === 1);
  expect(held[0]!.inv.deadlineMs).toBe(req.deadlineMs);
  held[0]!.release(completed(Buffer.alloc(0)));
  stream.end();
});

test('agent service decodes each distinct function spec once and tells revisions apart', async () => {
  const { stream } = open();
  stream.write({ callId: 1, frame: { $case: 'invoke', value: request('a', record('fn', 'rev-1')) } });
  stream.write({ callId: 2, frame: { $case: 'invoke', value: request('b', record('fn', 'rev-1')) } });
  stream.write({ callId: 3, frame: { $case: 'invoke', value: request('c', record('fn', 'rev-2')) } });
  await until(() => held.length === 3);
  expect(held[0]!.inv.record).toBe(held[1]!.inv.record);
  expect(held[2]!.inv.record.revisionId).toBe('rev-2');
  expect(held[0]!.inv.record).toMatchObject({ revisionId: 'rev-1', config: { name: 'fn' } });
  for (const h of held) h.release(completed(Buffer.alloc(0)));
  stream.end();
});

test('agent service refuses a session without the cluster token before it runs anything', async () => {
  const { stream, frames, ended } = open('wrong');
  stream.write({ callId: 1, frame: { $case: 'invoke', value: request('a', record('fn', 'rev-1')) } });
  expect((await ended).code).toBe(grpc.status.UNAUTHENTICATED);
  expect(frames).toEqual([]);
  expect(held).toEqual([]);
});

test('agent service answers a request without a spec with a failure frame, not a broken stream', async () => {
  const { stream, frames } = open();
  stream.write({ callId: 4, frame: { $case: 'invoke', value: { ...request('a', record('fn', 'rev-1')), spec: Buffer.alloc(0) } } });
  await until(() => frames.length === 2);
  expect(frames[1]).toMatchObject({ callId: 4, frame: { $case: 'response', value: { outcome: { $case: 'failed', value: { code: 'InvalidRequest' } } } } });
  stream.end();
});

test('agent service ends every session with OK when closed, so the server can shut down', async () => {
  const { frames, ended } = open();
  await until(() => frames.length === 1);
  service.close();
  expect((await ended).code).toBe(grpc.status.OK);
  // A session opened after close is turned down before `ready`: the router then knows nothing was sent.
  const late = open();
  expect((await late.ended).code).toBe(grpc.status.UNAVAILABLE);
  expect(late.frames).toEqual([]);
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
});

test('agent service sends the log tail only to a caller that asked for it', async () => {
  const fn = record('fn', 'rev-1');
  const { stream, frames } = open();
  stream.write({ callId: 1, frame: { $case: 'invoke', value: request('a', fn) } });
  stream.write({ callId: 2, frame: { $case: 'invoke', value: { ...request('b', fn), tailLogs: true } } });
  await until(() => held.length === 2);
  for (const h of held) h.release(completed(Buffer.alloc(0)));
  await until(() => frames.length === 3);
  const tails = Object.fromEntries(frames.slice(1).map((f) => [f.callId, f.frame?.$case === 'response' && f.frame.value.outcome?.$case === 'result' ? f.frame.value.outcome.value.logTail : '?']));
  expect(tails).toEqual({ 1: '', 2: 'START RequestId: x\n' });
  stream.end();
});
