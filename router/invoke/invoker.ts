import { SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { AgentFunctionSpec, type AgentFailure, type AgentInvokeResult } from '../../proto/gen/stratus/v1/agent';
import { remainingMs } from '../../sdk/core/deadline';
import { isErrorCode, StratusError, toStratusError } from '../../sdk/core/errors';
import type { FunctionRecord } from '../../sdk/core/function-config';
import { functionRecordToPb } from '../../sdk/core/wire/function-codec';
import { fromGrpcError } from '../../sdk/core/wire/grpc-errors';
import type { AgentCallFailure, AgentClients } from './agent-clients';
import type { ClusterView } from '../cluster/cluster-view';
import { tenantOf } from '../../sdk/core/identity';
import type { UsageRecord } from '../../sdk/core/usage';
import { statusOfFailure, statusOfResult, type InvocationOrigin, type InvocationRecord } from '../../sdk/core/invocation-record';
import type { Logger } from '../../sdk/platform/logger';

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
  /** Longest chain of functions invoking each other (through the API, subjects, async calls, destinations) before it is stopped. Default 16. */
  recursionLimit?: number;
  /** The router API address handed to functions (STRATUS_ENDPOINT), for their SDK calls. */
  apiEndpoint?: string;
  /** Mints an invocation's execution-role credentials; without it functions get none. */
  credentials?: FunctionCredentials;
  /** Told how every invocation ended (records and metrics); without it nothing is recorded. */
  observer?: InvocationObserver;
  /** Where the invoker reports what it could not do besides failing a call. */
  logger?: Logger;
  /** Makes sure a function's log stream exists before its first invocation is placed. */
  logStreams?: { isReady(record: FunctionRecord): boolean; ensure(record: FunctionRecord): Promise<void> };
}

/** Receives the record of every invocation the invoker placed or refused (router/observability). */
export interface InvocationObserver {
  completed(record: InvocationRecord): void;
}

/** Mints the short-lived credentials of a function's execution role for one invocation (router/auth/session-tokens.ts). */
export interface FunctionCredentials {
  mint(record: FunctionRecord, depth: number, requestId: string, deadlineMs: number): string;
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
  /** Aborts when the caller gives up; the agent is then told to drop the invocation. */
  signal?: AbortSignal;
  /** Functions in the call chain, this one included (1 when a user or an event started it). Default 1. */
  depth?: number;
  /** The entry point it came through. Default a synchronous API call. */
  origin?: InvocationOrigin;
}

/**
 * Function specs as the agent receives them, encoded once per record: records are immutable
 * snapshots (a new revision is a new object), so the record itself is the key.
 */
const encodedSpecs = new WeakMap<FunctionRecord, Buffer>();

function encodedSpec(record: FunctionRecord): Buffer {
  let spec = encodedSpecs.get(record);
  if (!spec) {
    const bytes = AgentFunctionSpec.encode({ function: functionRecordToPb(record) }).finish();
    spec = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    encodedSpecs.set(record, spec);
  }
  return spec;
}

/** Agent failure codes that, as gRPC statuses, always meant the agent was lost mid-call. */
const LOST_CODES: ReadonlySet<string> = new Set(['AgentLost', 'ServiceUnavailable', 'Cancelled', 'Internal']);

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
  // This router's own calls in flight. Heartbeats lag a dispatch by a few ms and can overwrite the
  // view's booking of it, so on their own they let a burst on one router pass a reserved concurrency.
  private readonly inFlight = new Map<string, number>();
  private inFlightTotal = 0;

  constructor(
    private readonly view: ClusterView,
    private readonly clients: AgentClients,
    private readonly tracer: Tracer,
    private readonly options: InvokerOptions,
    /** Meters every run (billed whether the function succeeded or failed; throttles and refusals are not). */
    private readonly meter?: { record(r: UsageRecord): Promise<void> },
  ) {}

  /** This router's calls in flight, per function (for stratus.concurrent_executions). */
  concurrency(): ReadonlyMap<string, number> {
    return this.inFlight;
  }

  /** Runs the invocation somewhere, or throws a StratusError saying why not; either way its record is kept. */
  async invoke(inv: SyncInvocation): Promise<SyncResult> {
    const observer = this.options.observer;
    if (!observer) return this.place(inv);
    const startMs = Date.now();
    try {
      const result = await this.place(inv);
      observer.completed(this.recordOf(inv, startMs, {
        status: statusOfResult(result.functionFailed ? result.errorType || 'Unhandled' : undefined),
        errorType: result.functionFailed ? result.errorType || 'Unhandled' : '',
        errorMessage: result.functionFailed ? result.errorMessage : '',
        durationMs: result.durationMs,
        initDurationMs: result.initDurationMs,
        coldStart: result.coldStart,
        billedDurationMs: result.billedDurationMs,
        maxMemoryUsedMb: result.maxMemoryUsedMb,
        agentId: result.agentId,
      }));
      return result;
    } catch (err) {
      const e = toStratusError(err);
      observer.completed(this.recordOf(inv, startMs, { status: statusOfFailure(e.code), errorType: e.code, errorMessage: e.message, durationMs: 0, initDurationMs: undefined, coldStart: false, billedDurationMs: 0, maxMemoryUsedMb: 0, agentId: '' }));
      throw err;
    }
  }

  private recordOf(inv: SyncInvocation, startMs: number, outcome: Pick<InvocationRecord, 'status' | 'errorType' | 'errorMessage' | 'durationMs' | 'initDurationMs' | 'coldStart' | 'billedDurationMs' | 'maxMemoryUsedMb' | 'agentId'>): InvocationRecord {
    const origin = inv.origin ?? { trigger: 'sync', source: '' };
    return {
      requestId: inv.requestId,
      functionName: inv.record.config.name,
      version: inv.record.version,
      tenant: tenantOf(inv.record),
      trigger: origin.trigger,
      source: origin.source,
      startMs,
      queueWaitMs: origin.acceptedAtMs ? Math.max(0, startMs - origin.acceptedAtMs) : 0,
      memoryMb: inv.record.config.memoryMb,
      attempt: origin.attempt ?? 0,
      ...outcome,
      // A record is not the place for a whole stack: the function's log has it.
      errorMessage: outcome.errorMessage.length > 1024 ? `${outcome.errorMessage.slice(0, 1021)}...` : outcome.errorMessage,
    };
  }

  private async place(inv: SyncInvocation): Promise<SyncResult> {
    const { record } = inv;
    const depth = inv.depth ?? 1;
    const limit = this.options.recursionLimit ?? 16;
    if (depth > limit && record.config.recursiveLoop !== 'Allow') {
      throw new StratusError(
        'RecursiveInvocation',
        `function '${record.config.name}' would be call ${depth} of a chain of functions invoking each other, over the recursion limit of ${limit}: the chain was stopped. If the loop is intended, set the function's recursive loop to Allow (stratus deploy --recursive-loop Allow)`,
        { retryable: false },
      );
    }
    // Every invocation gets credentials, role or not: they carry the chain's depth, and a function
    // without a role is then told it has none (AccessDenied) instead of being unknown.
    const sessionToken = this.options.credentials ? this.options.credentials.mint(record, depth, inv.requestId, inv.deadlineMs) : '';
    const exclude = new Set<string>();
    const waitUntil = Math.min(inv.deadlineMs, Date.now() + this.options.placementWaitMs);
    const spec = encodedSpec(record);
    const logs = this.options.logStreams;
    // Lines have nowhere to go until the function's log stream exists: made once, then free.
    if (logs && !logs.isReady(record)) await logs.ensure(record).catch((err: unknown) => this.options.logger?.warn('could not prepare the function\'s log stream; its lines are dropped until it exists', { function: record.config.name, err: toStratusError(err) }));
    for (;;) {
      // A caller that went away while this waited for capacity must not be placed and booked.
      if (inv.signal?.aborted) throw new StratusError('Cancelled', 'the caller cancelled the call before it was placed; the function did not run');
      const limited = this.overLimit(record);
      if (limited) {
        const left = waitUntil - Date.now();
        if (left <= 0) throw limited;
        await this.view.waitForChange(Math.min(left, 100));
        continue;
      }
      const decision = this.tracer.startActiveSpan('stratus.placement', (span) => {
        const d = this.view.place({
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
      const response = await this.counted(record.config.name, () => this.clients.invoke(
        decision.address,
        {
          requestId: inv.requestId,
          spec,
          payload: inv.payload,
          tailLogs: inv.tailLogs,
          deadlineMs: inv.deadlineMs,
          clientContext: inv.clientContext,
          invokedFunctionArn: inv.invokedFunctionArn,
          traceparent: '',
          tracestate: '',
          sessionToken,
          apiEndpoint: this.options.apiEndpoint ?? '',
        },
        inv.deadlineMs,
        Math.min(this.options.agentConnectTimeoutMs, remainingMs(inv.deadlineMs)),
        inv.signal,
      ));
      if ('kind' in response) {
        if (response.kind === 'unreachable') {
          exclude.add(decision.agentId);
          this.view.remove(decision.agentId);
          if (remainingMs(inv.deadlineMs) <= 0) throw new StratusError('Timeout', 'the deadline passed while connecting to an agent: retry with a longer timeout');
          continue;
        }
        throw this.afterSend(response, decision.agentId);
      }
      const outcome = response.outcome;
      if (outcome?.$case === 'result') {
        // Stored before the caller hears of it: usage survives this router dying right after.
        await this.meter?.record({ tenant: tenantOf(record), functionName: record.config.name, requestId: inv.requestId, billedMs: outcome.value.billedDurationMs, memoryMb: record.config.memoryMb, atMs: Date.now() });
        return { ...outcome.value, agentId: decision.agentId };
      }
      if (outcome?.$case === 'failed') throw this.agentFailure(outcome.value, decision.agentId);
      exclude.add(decision.agentId);
    }
  }

  /**
   * A throttle when the function's reserved concurrency (a cap as well as a guarantee) or the
   * cluster's concurrency limit is reached, else undefined. Counts are the larger of what heartbeats
   * and bookings show and this router's own calls in flight: exact for one router, while several
   * routers may briefly overshoot by a few.
   */
  private overLimit(record: FunctionRecord): StratusError | undefined {
    const seen = this.view.concurrency(record.config.name);
    const running = { function: Math.max(seen.function, this.inFlight.get(record.config.name) ?? 0), total: Math.max(seen.total, this.inFlightTotal) };
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

  /** Counts a call to an agent as in flight from its dispatch (synchronously, before any await) to its end. */
  private async counted<T>(functionName: string, call: () => Promise<T>): Promise<T> {
    this.inFlight.set(functionName, (this.inFlight.get(functionName) ?? 0) + 1);
    this.inFlightTotal += 1;
    try {
      return await call();
    } finally {
      const left = (this.inFlight.get(functionName) ?? 1) - 1;
      if (left > 0) this.inFlight.set(functionName, left);
      else this.inFlight.delete(functionName);
      this.inFlightTotal -= 1;
    }
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

  /** Why a sent invocation has no answer, as the caller sees it. */
  private afterSend(failure: Exclude<AgentCallFailure, { kind: 'unreachable' }>, agentId: string): StratusError {
    switch (failure.kind) {
      case 'deadline':
        return new StratusError('Timeout', 'the call deadline passed before the function answered; it may still be running: give the call a longer timeout');
      case 'cancelled':
        return new StratusError('Cancelled', 'the caller cancelled the call; the function may still be running');
      case 'rejected':
        return fromGrpcError(failure.error);
      case 'lost':
        return this.agentLost(agentId, failure.error);
      default: {
        const never: never = failure;
        return never;
      }
    }
  }

  /** An error the agent answered with instead of running the invocation. */
  private agentFailure(failure: AgentFailure, agentId: string): StratusError {
    // As gRPC statuses these codes were indistinguishable from a lost agent, and were reported so.
    if (LOST_CODES.has(failure.code)) return this.agentLost(agentId, new Error(`${failure.code}: ${failure.message}`));
    return new StratusError(isErrorCode(failure.code) ? failure.code : 'Internal', failure.message);
  }

  private agentLost(agentId: string, cause: Error): StratusError {
    this.tracer.startSpan('stratus.agent.lost', { attributes: { 'stratus.agent.id': agentId } }).setStatus({ code: SpanStatusCode.ERROR }).end();
    return new StratusError(
      'AgentLost',
      `the agent running this invocation (${agentId}) was lost mid-call; the function may or may not have run: retry only if it is safe to run it twice`,
      { cause, retryable: false },
    );
  }
}
