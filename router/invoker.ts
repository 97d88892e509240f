import { status } from '@grpc/grpc-js';
import { SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { AgentInvokeResult } from '../proto/gen/stratus/v1/agent';
import { remainingMs } from '../sdk/core/deadline';
import { StratusError } from '../sdk/core/errors';
import type { FunctionRecord } from '../sdk/core/function-config';
import { functionRecordToPb } from '../sdk/core/wire/function-codec';
import { fromGrpcError } from '../sdk/core/wire/grpc-errors';
import type { AgentClients } from './agent-clients';
import type { ClusterView } from './cluster-view';
import { place } from './placement';

/** Options for {@link Invoker}. */
export interface InvokerOptions {
  /** Longest a request waits for capacity before it is throttled. */
  placementWaitMs: number;
  /** Longest the router waits to connect to a chosen agent before trying another. */
  agentConnectTimeoutMs: number;
  /** Retry hint handed back with a throttle. */
  throttleRetryAfterMs: number;
  /** Most invocations running at once in the whole cluster (Lambda's account limit; default 1000). */
  clusterConcurrencyLimit: number;
}

/** One synchronous invocation to place. */
export interface SyncInvocation {
  requestId: string;
  record: FunctionRecord;
  payload: Buffer;
  deadlineMs: number;
  tailLogs: boolean;
  clientContext: string;
  invokedFunctionArn: string;
}

/** What the agent reported, plus where it ran. */
export interface SyncResult extends AgentInvokeResult {
  agentId: string;
}

/**
 * Places a synchronous invocation: asks placement for an agent, dispatches, and on a refusal
 * tries the next; with no capacity it waits a bounded time, then throttles. A request that
 * reached an agent and then failed is never sent elsewhere: it may have run.
 */
export class Invoker {
  constructor(
    private readonly view: ClusterView,
    private readonly clients: AgentClients,
    private readonly tracer: Tracer,
    private readonly options: InvokerOptions,
  ) {}

  /** Runs the invocation somewhere, or throws a StratusError saying why not. */
  async invoke(inv: SyncInvocation): Promise<SyncResult> {
    const { record } = inv;
    const exclude = new Set<string>();
    const waitUntil = Math.min(inv.deadlineMs, Date.now() + this.options.placementWaitMs);
    const spec = { function: functionRecordToPb(record) };
    for (;;) {
      const limited = this.overLimit(record);
      if (limited) {
        const left = waitUntil - Date.now();
        if (left <= 0) throw limited;
        await this.view.waitForChange(Math.min(left, 100));
        continue;
      }
      const decision = this.tracer.startActiveSpan('stratus.placement', (span) => {
        const d = place(this.view.agents(), {
          functionName: record.config.name,
          revisionId: record.revisionId,
          memoryMb: record.config.memoryMb,
          exclude,
        });
        span.setAttribute('stratus.placement.decision', d.kind);
        if (d.kind === 'dispatch') {
          span.setAttribute('stratus.agent.id', d.agentId);
          span.setAttribute('stratus.placement.reason', d.reason);
        }
        span.end();
        return d;
      });
      if (decision.kind !== 'dispatch') {
        const left = waitUntil - Date.now();
        if (left <= 0) throw this.noCapacity(decision.kind === 'reject', record);
        // Capacity may come back: agents that refused get another chance after the view changes.
        exclude.clear();
        await this.view.waitForChange(Math.min(left, 100));
        continue;
      }
      this.view.noteDispatch(decision.agentId, record.config.name, record.revisionId, record.config.memoryMb, decision.reason);
      const response = await this.clients.invoke(
        decision.address,
        {
          requestId: inv.requestId,
          spec,
          payload: inv.payload,
          tailLogs: inv.tailLogs,
          deadlineMs: inv.deadlineMs,
          clientContext: inv.clientContext,
          invokedFunctionArn: inv.invokedFunctionArn,
        },
        inv.deadlineMs,
        Math.min(this.options.agentConnectTimeoutMs, remainingMs(inv.deadlineMs)),
      );
      if ('kind' in response) {
        if (response.kind === 'unreachable') {
          exclude.add(decision.agentId);
          this.view.remove(decision.agentId);
          if (remainingMs(inv.deadlineMs) <= 0) throw new StratusError('Timeout', 'the deadline passed while connecting to an agent: retry with a longer timeout');
          continue;
        }
        throw this.afterSend(response.error, decision.agentId);
      }
      const outcome = response.outcome;
      if (outcome?.$case === 'result') return { ...outcome.value, agentId: decision.agentId };
      exclude.add(decision.agentId);
    }
  }

  /**
   * A throttle when the function's reserved concurrency (a cap as well as a guarantee) or the
   * cluster's concurrency limit is reached, else undefined. Counts come from heartbeats plus this
   * router's own dispatches, so several routers may briefly overshoot by a few.
   */
  private overLimit(record: FunctionRecord): StratusError | undefined {
    const running = this.view.concurrency(record.config.name);
    const reserved = record.config.reservedConcurrency;
    if (reserved !== undefined && running.function >= reserved) {
      return new StratusError('TooManyRequests', `function '${record.config.name}' is running ${running.function} of its ${reserved} reserved concurrent invocations: retry after ${this.options.throttleRetryAfterMs} ms, or raise its reserved concurrency`, {
        retryAfterMs: this.options.throttleRetryAfterMs,
      });
    }
    if (running.total >= this.options.clusterConcurrencyLimit) {
      return new StratusError('TooManyRequests', `the cluster is running ${running.total} invocations, its concurrency limit: retry after ${this.options.throttleRetryAfterMs} ms, or raise STRATUS_CLUSTER_CONCURRENCY`, {
        retryAfterMs: this.options.throttleRetryAfterMs,
      });
    }
    return undefined;
  }

  private noCapacity(noAgents: boolean, record: FunctionRecord): StratusError {
    if (noAgents) {
      return new StratusError('ServiceUnavailable', 'no node agents are connected to the cluster: start an agent (stratus dev starts one) and retry', {
        retryAfterMs: this.options.throttleRetryAfterMs,
      });
    }
    return new StratusError(
      'TooManyRequests',
      `no agent has room for another ${record.config.memoryMb} MB instance of '${record.config.name}': retry after ${this.options.throttleRetryAfterMs} ms, or add agents`,
      { retryAfterMs: this.options.throttleRetryAfterMs },
    );
  }

  private afterSend(err: import('@grpc/grpc-js').ServiceError, agentId: string): StratusError {
    if (err.code === status.DEADLINE_EXCEEDED) {
      return new StratusError('Timeout', 'the call deadline passed before the function answered; it may still be running: give the call a longer timeout', { cause: err });
    }
    if (err.code === status.UNAVAILABLE || err.code === status.CANCELLED || err.code === status.INTERNAL) {
      this.tracer.startSpan('stratus.agent.lost', { attributes: { 'stratus.agent.id': agentId } }).setStatus({ code: SpanStatusCode.ERROR }).end();
      return new StratusError(
        'AgentLost',
        `the agent running this invocation (${agentId}) was lost mid-call; the function may or may not have run: retry only if it is safe to run it twice`,
        { cause: err, retryable: false },
      );
    }
    return fromGrpcError(err);
  }
}
