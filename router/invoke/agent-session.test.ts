/**
 * Drives AgentClients and AgentSession over real gRPC on loopback against a scripted agent: a
 * gRPC server for AgentService/Session whose answers each test controls.
 */
import * as grpc from '@grpc/grpc-js';
import { context, propagation, trace, TraceFlags } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  AgentServiceService,
  type AgentInvokeRequest,
  type AgentInvokeResponse,
  type AgentSessionRequest,
  type AgentSessionResponse,
} from '../../proto/gen/stratus/v1/agent';
import { bearerToken } from '../../sdk/platform/auth';
import { AgentClients, type AgentCallFailure } from './agent-clients';

const TOKEN = 'cluster-secret';

type Call = grpc.ServerDuplexStream<AgentSessionRequest, AgentSessionResponse>;

/** A scripted agent: records frames, answers when told. */
class ScriptedAgent {
  readonly server = new grpc.Server();
  readonly calls: Call[] = [];
  readonly invocations: Array<{ call: Call; callId: number; request: AgentInvokeRequest }> = [];
  readonly cancels: number[] = [];
  address = '';
  private waiters: Array<() => void> = [];

  async start(port = 0): Promise<void> {
    this.server.addService(AgentServiceService, {
      session: (call: Call) => {
        if (bearerToken(call.metadata) !== TOKEN) {
          call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'bad token' });
          return;
        }
        this.calls.push(call);
        call.on('data', (frame: AgentSessionRequest) => {
          if (frame.frame?.$case === 'invoke') this.invocations.push({ call, callId: frame.callId, request: frame.frame.value });
          if (frame.frame?.$case === 'cancel') this.cancels.push(frame.callId);
          for (const w of this.waiters.splice(0)) w();
        });
        call.on('error', () => undefined);
        call.write({ callId: 0, frame: { $case: 'ready', value: { agentId: 'scripted' } } });
      },
    });
    const bound = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.address = `127.0.0.1:${bound}`;
  }

  /** Resolves once `test()` holds after a frame arrived. */
  async until(test: () => boolean): Promise<void> {
    while (!test()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  answer(index: number, payload: string): void {
    const inv = this.invocations[index]!;
    const response: AgentInvokeResponse = {
      outcome: {
        $case: 'result',
        value: { payload: Buffer.from(payload), errorType: '', errorMessage: '', stackTrace: [], functionFailed: false, logTail: '', durationMs: 1, billedDurationMs: 1, maxMemoryUsedMb: 1, coldStart: false },
      },
    };
    inv.call.write({ callId: inv.callId, frame: { $case: 'response', value: response } });
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

function request(requestId: string): AgentInvokeRequest {
  return { requestId, spec: Buffer.from('spec'), payload: Buffer.from(requestId), tailLogs: false, deadlineMs: Date.now() + 10_000, clientContext: '', invokedFunctionArn: '', traceparent: '', tracestate: '', sessionToken: '', apiEndpoint: '' };
}

function payloadOf(r: AgentInvokeResponse | AgentCallFailure): string {
  if ('kind' in r) throw new Error(`expected an answer, got ${r.kind}`);
  if (r.outcome?.$case !== 'result') throw new Error('expected a result');
  return r.outcome.value.payload.toString();
}

let agent: ScriptedAgent;
let clients: AgentClients;
beforeEach(async () => {
  agent = new ScriptedAgent();
  await agent.start();
  clients = new AgentClients(TOKEN, 16, undefined);
});
afterEach(() => {
  clients.close();
  agent.stop();
});

const deadline = (): number => Date.now() + 10_000;

test('agent session matches answers to invocations by call id when the agent answers out of order', async () => {
  const calls = ['a', 'b', 'c'].map((id) => clients.invoke(agent.address, request(id), deadline(), 2000));
  await agent.until(() => agent.invocations.length === 3);
  // One stream carries all three.
  expect(agent.calls).toHaveLength(1);
  expect(new Set(agent.invocations.map((i) => i.callId)).size).toBe(3);
  for (const index of [2, 0, 1]) agent.answer(index, `answer-${agent.invocations[index]!.request.requestId}`);
  expect((await Promise.all(calls)).map(payloadOf)).toEqual(['answer-a', 'answer-b', 'answer-c']);
});

test('agent session fails every invocation in flight as lost when the stream breaks, and later calls open a new session', async () => {
  const calls = ['a', 'b'].map((id) => clients.invoke(agent.address, request(id), deadline(), 2000));
  await agent.until(() => agent.invocations.length === 2);
  agent.calls[0]!.emit('error', { code: grpc.status.INTERNAL, details: 'agent crashed' });
  const outcomes = await Promise.all(calls);
  expect(outcomes.map((o) => ('kind' in o ? o.kind : 'answered'))).toEqual(['lost', 'lost']);

  const next = clients.invoke(agent.address, request('c'), deadline(), 2000);
  await agent.until(() => agent.invocations.length === 3);
  expect(agent.calls).toHaveLength(2);
  agent.answer(2, 'fresh');
  expect(payloadOf(await next)).toBe('fresh');
});

test('agent session reports a stopped agent as lost for calls in flight and unreachable for new ones', async () => {
  const inFlight = clients.invoke(agent.address, request('a'), deadline(), 2000);
  await agent.until(() => agent.invocations.length === 1);
  agent.stop();
  expect(await inFlight).toMatchObject({ kind: 'lost' });
  expect(await clients.invoke(agent.address, request('b'), deadline(), 2000)).toMatchObject({ kind: 'unreachable' });
});

test('agent session settles at the deadline and sends a cancel frame for that call only', async () => {
  const slow = clients.invoke(agent.address, request('slow'), Date.now() + 150, 2000);
  const other = clients.invoke(agent.address, request('other'), deadline(), 2000);
  await agent.until(() => agent.invocations.length === 2);
  expect(await slow).toEqual({ kind: 'deadline' });
  const slowId = agent.invocations.find((i) => i.request.requestId === 'slow')!.callId;
  await agent.until(() => agent.cancels.length === 1);
  expect(agent.cancels).toEqual([slowId]);
  // A late answer for the cancelled call is ignored; the other call is unaffected.
  agent.answer(agent.invocations.findIndex((i) => i.request.requestId === 'slow'), 'late');
  agent.answer(agent.invocations.findIndex((i) => i.request.requestId === 'other'), 'on time');
  expect(payloadOf(await other)).toBe('on time');
});

test('agent session settles as cancelled and sends a cancel frame when the caller aborts', async () => {
  const abort = new AbortController();
  const call = clients.invoke(agent.address, request('a'), deadline(), 2000, abort.signal);
  await agent.until(() => agent.invocations.length === 1);
  abort.abort();
  expect(await call).toEqual({ kind: 'cancelled' });
  await agent.until(() => agent.cancels.length === 1);
  expect(agent.cancels).toEqual([agent.invocations[0]!.callId]);
});

test('agent session reports unreachable when nothing listens at the address, having sent nothing', async () => {
  const port = Number(agent.address.split(':')[1]);
  agent.stop();
  const outcome = await clients.invoke(`127.0.0.1:${port}`, request('a'), deadline(), 2000);
  expect(outcome).toMatchObject({ kind: 'unreachable' });
});

test('agent session reports a wrong cluster token as rejected, not unreachable', async () => {
  const wrong = new AgentClients('not-the-token', 4, undefined);
  try {
    const outcome = await wrong.invoke(agent.address, request('a'), deadline(), 2000);
    expect(outcome).toMatchObject({ kind: 'rejected' });
    expect((outcome as { error: grpc.ServiceError }).error.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(agent.invocations).toHaveLength(0);
  } finally {
    wrong.close();
  }
});

test('agent session carries the trace context per invocation frame', async () => {
  // Installs the async context manager and the W3C propagator, as main.ts does.
  new NodeTracerProvider().register();
  try {
    const sc = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };
    const call = context.with(trace.setSpanContext(context.active(), sc), () => clients.invoke(agent.address, request('a'), deadline(), 2000));
    await agent.until(() => agent.invocations.length === 1);
    expect(agent.invocations[0]!.request.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    agent.answer(0, 'ok');
    await call;
  } finally {
    trace.disable();
    context.disable();
    propagation.disable();
  }
});
