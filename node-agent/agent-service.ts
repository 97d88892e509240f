import type { ServerDuplexStream } from '@grpc/grpc-js';
import { context, propagation, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { LRUCache } from 'lru-cache';
import {
  AgentFunctionSpec,
  type AgentInvokeRequest,
  type AgentInvokeResponse,
  type AgentServiceServer,
  type AgentSessionRequest,
  type AgentSessionResponse,
} from '../proto/gen/stratus/v1/agent';
import { requireToken } from '../sdk/platform/auth';
import { StratusError, toStratusError } from '../sdk/core/errors';
import type { FunctionRecord } from '../sdk/core/function-config';
import type { Logger } from '../sdk/platform/logger';
import { functionRecordFromPb } from '../sdk/core/wire/function-codec';
import { toGrpcStatus } from '../sdk/core/wire/grpc-errors';
import type { Agent, AgentOutcome } from './agent';

/** Options for {@link AgentService}. */
export interface AgentServiceOptions {
  /** Runs the invocations (the agent, or anything with its `invoke`). */
  agent: Pick<Agent, 'invoke'>;
  /** This agent's id, told to routers when a session opens. */
  agentId: string;
  /** Tokens a router may present (STRATUS_CLUSTER_TOKEN). */
  clusterTokens: readonly string[];
  tracer: Tracer;
  logger: Logger;
  /** Most distinct function specs kept decoded (default 1000). */
  maxCachedSpecs?: number;
}

type Session = ServerDuplexStream<AgentSessionRequest, AgentSessionResponse>;

function toResponse(outcome: AgentOutcome, tailLogs: boolean): AgentInvokeResponse {
  if (outcome.kind === 'refused') return { outcome: { $case: 'refused', value: { reason: outcome.reason, message: outcome.message } } };
  return {
    outcome: {
      $case: 'result',
      value: {
        payload: outcome.payload,
        functionFailed: outcome.functionError !== undefined,
        errorType: outcome.functionError?.errorType ?? '',
        errorMessage: outcome.functionError?.errorMessage ?? '',
        stackTrace: outcome.functionError?.stackTrace ?? [],
        // Only a caller that asked for the tail gets it: no bytes on the wire for the rest.
        logTail: tailLogs ? outcome.logTail : '',
        durationMs: outcome.durationMs,
        billedDurationMs: outcome.billedDurationMs,
        initDurationMs: outcome.initDurationMs,
        maxMemoryUsedMb: outcome.maxMemoryUsedMb,
        coldStart: outcome.coldStart,
      },
    },
  };
}

/**
 * The agent's gRPC face for routers. Each router keeps one session (a bidirectional stream)
 * open, authenticated once with the cluster token, and multiplexes invocations on it; answers go
 * back tagged with the router's call id. A cancel frame (the caller went away, or its deadline
 * passed) cancels the invocation: no answer is sent, an invocation still waiting for its instance
 * is not run, and a running one has its instance killed as on a timeout — code that has started
 * cannot be un-run, only stopped. A session that ends cancels nothing; its answers are dropped.
 */
export class AgentService {
  private readonly sessions = new Set<Session>();
  private closed = false;
  private readonly specs: LRUCache<string, FunctionRecord>;

  constructor(private readonly options: AgentServiceOptions) {
    this.specs = new LRUCache({ max: options.maxCachedSpecs ?? 1000 });
  }

  /** The handlers to register with the gRPC server. */
  get handlers(): AgentServiceServer {
    return { session: (call: Session) => this.open(call) };
  }

  /** Ends every session (after the agent drained, so none has work in flight). */
  close(): void {
    this.closed = true;
    for (const call of this.sessions) call.end();
    this.sessions.clear();
  }

  private open(call: Session): void {
    if (this.closed) {
      // Before `ready`, so the router knows nothing was sent and places the work elsewhere.
      call.emit('error', toGrpcStatus(new StratusError('ServiceUnavailable', 'this agent is shutting down: place the invocation on another agent')));
      return;
    }
    try {
      requireToken(call.metadata, this.options.clusterTokens, 'routers must use the cluster token (STRATUS_CLUSTER_TOKEN)');
    } catch (err) {
      call.emit('error', toGrpcStatus(toStratusError(err)));
      return;
    }
    this.sessions.add(call);
    /** Invocations running for this session, by call id, with the way to cancel each; a cancelled one is removed. */
    const live = new Map<number, AbortController>();
    const closeSession = (): void => {
      this.sessions.delete(call);
      // A lost session is not a cancel: what runs finishes as before (an async retry may depend on it).
      live.clear();
    };
    call.on('data', (frame: AgentSessionRequest) => {
      const f = frame.frame;
      if (f?.$case === 'invoke') {
        const controller = new AbortController();
        live.set(frame.callId, controller);
        this.run(f.value, controller.signal)
          .then((response) => {
            if (!live.delete(frame.callId) || !this.sessions.has(call)) return;
            call.write({ callId: frame.callId, frame: { $case: 'response', value: response } });
          })
          // run() never rejects; this is a write onto a stream that broke meanwhile. The router sees the session fail.
          .catch((err: unknown) => this.options.logger.warn('could not send an invocation\'s answer', { callId: frame.callId, err: toStratusError(err) }));
      } else if (f?.$case === 'cancel') {
        live.get(frame.callId)?.abort();
        live.delete(frame.callId);
      }
    });
    // The router half-closed (it is shutting down): nothing more will come, and answers have nowhere to go.
    call.on('end', () => {
      closeSession();
      call.end();
    });
    call.on('cancelled', closeSession);
    call.on('error', closeSession);
    call.write({ callId: 0, frame: { $case: 'ready', value: { agentId: this.options.agentId } } });
  }

  /** Runs one invocation under a server span that continues the router's trace; never throws. */
  private run(req: AgentInvokeRequest, signal: AbortSignal): Promise<AgentInvokeResponse> {
    const { tracer, agent, logger } = this.options;
    const parent = propagation.extract(context.active(), { traceparent: req.traceparent || undefined, tracestate: req.tracestate || undefined });
    return context.with(parent, () =>
      tracer.startActiveSpan('stratus.agent.invoke', { kind: SpanKind.SERVER }, async (span): Promise<AgentInvokeResponse> => {
        try {
          const record = this.record(req.spec);
          span.setAttribute('faas.name', record.config.name);
          span.setAttribute('faas.invocation_id', req.requestId);
          const outcome = await agent.invoke({
            requestId: req.requestId,
            record,
            payload: req.payload,
            deadlineMs: req.deadlineMs,
            invokedFunctionArn: req.invokedFunctionArn,
            clientContext: req.clientContext || undefined,
            sessionToken: req.sessionToken || undefined,
            apiEndpoint: req.apiEndpoint || undefined,
            signal,
          });
          span.setAttribute('stratus.outcome', outcome.kind);
          return toResponse(outcome, req.tailLogs);
        } catch (err) {
          const e = toStratusError(err);
          span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
          logger.warn('invoke failed', { err: e });
          return { outcome: { $case: 'failed', value: { code: e.code, message: e.message } } };
        } finally {
          span.end();
        }
      }),
    );
  }

  /** The function record a spec describes, decoded once per distinct spec. */
  private record(spec: Buffer): FunctionRecord {
    const key = spec.toString('latin1');
    let record = this.specs.get(key);
    if (!record) {
      const fn = spec.length > 0 ? AgentFunctionSpec.decode(spec).function : undefined;
      if (!fn) throw new StratusError('InvalidRequest', 'invoke request without a function spec');
      record = functionRecordFromPb(fn);
      this.specs.set(key, record);
    }
    return record;
  }
}
