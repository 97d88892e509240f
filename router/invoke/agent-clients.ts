import * as grpc from '@grpc/grpc-js';
import { context, propagation } from '@opentelemetry/api';
import { LRUCache } from 'lru-cache';
import { AgentServiceClient, type AgentInvokeRequest, type AgentInvokeResponse } from '../../proto/gen/stratus/v1/agent';
import { withBearer } from '../../sdk/core/wire/bearer';
import { LIMITS } from '../../sdk/core/limits';
import { agentChannelCredentials, type AgentDialTls } from '../../sdk/platform/tls';
import { AgentSession, type AgentCallFailure } from './agent-session';

export type { AgentCallFailure } from './agent-session';

interface Connection {
  client: AgentServiceClient;
  session: AgentSession | undefined;
}

/** W3C trace context as plain fields of an invocation frame. */
interface TraceFields {
  traceparent?: string;
  tracestate?: string;
}

let turnBarrier: Promise<void> | undefined;

/**
 * Resolves after two event-loop turns, shared by every caller in the same turn. An agent that
 * died a moment ago still looks open until the close already queued on its socket is handled
 * (one turn to read it, one for grpc-js to end the stream); a frame written into that dead
 * stream would fail like one the agent received, so it could not be sent elsewhere.
 */
function pendingIoHandled(): Promise<void> {
  turnBarrier ??= new Promise<void>((resolve) =>
    setImmediate(() =>
      setImmediate(() => {
        turnBarrier = undefined;
        resolve();
      }),
    ),
  );
  return turnBarrier;
}

/**
 * Connections to agents: one channel and one long-lived invocation session per address,
 * closed when evicted. Invocations are multiplexed on the session (see AgentSession).
 */
export class AgentClients {
  private readonly connections: LRUCache<string, Connection>;
  private readonly dial: ReturnType<typeof agentChannelCredentials>;

  constructor(
    private readonly clusterToken: string,
    maxAgents: number,
    /** TLS to agents; undefined dials plain text. */
    tls: AgentDialTls | undefined,
  ) {
    this.dial = agentChannelCredentials(tls);
    this.connections = new LRUCache<string, Connection>({
      max: maxAgents,
      dispose: (c) => {
        c.session?.close();
        c.client.close();
      },
    });
  }

  /**
   * Invokes on the agent at `address`. The session is opened first (bounded by `untilConnectMs`),
   * so "unreachable" reliably means nothing was sent.
   */
  async invoke(
    address: string,
    request: AgentInvokeRequest,
    deadlineMs: number,
    connectTimeoutMs: number,
    signal?: AbortSignal,
  ): Promise<AgentInvokeResponse | AgentCallFailure> {
    const session = this.session(address);
    const failure = await session.waitOpen(Math.min(deadlineMs, Date.now() + connectTimeoutMs));
    if (failure) return failure;
    await pendingIoHandled();
    if (session.state !== 'open') return { kind: 'unreachable', error: new Error(`the session to agent ${address} ended before the invocation was sent`) };
    const trace: TraceFields = {};
    propagation.inject(context.active(), trace);
    return session.invoke({ ...request, traceparent: trace.traceparent ?? '', tracestate: trace.tracestate ?? '' }, deadlineMs, signal);
  }

  /** Closes every session and channel. */
  close(): void {
    this.connections.clear();
  }

  /** The open (or opening) session to `address`, opening a new one when the last one ended. */
  private session(address: string): AgentSession {
    let conn = this.connections.get(address);
    if (!conn) {
      const client = new AgentServiceClient(address, this.dial.credentials, {
        ...this.dial.options,
        'grpc.max_receive_message_length': LIMITS.maxGrpcMessageBytes,
        'grpc.max_send_message_length': LIMITS.maxGrpcMessageBytes,
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      });
      conn = { client, session: undefined };
      this.connections.set(address, conn);
    }
    if (!conn.session || conn.session.state === 'closed') {
      const stream = conn.client.session(withBearer(new grpc.Metadata(), this.clusterToken));
      conn.session = new AgentSession(stream, address);
    }
    return conn.session;
  }
}
