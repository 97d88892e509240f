import { performance } from 'node:perf_hooks';
import type { Tracer } from '@opentelemetry/api';
import { StratusError } from '../sdk/core/errors';
import { functionArn, type FunctionRecord } from '../sdk/core/function-config';
import type { Logger } from '../sdk/platform/logger';
import { toTraceparent, toXrayTraceHeader } from '../sdk/core/trace-context';
import type { CodeCache } from './instances/code-cache';
import type { Instance } from './instances/instance';
import type { InstancePool } from './instances/instance-pool';
import { billedDuration, JSON_PLATFORM_LINES, LogTail, TEXT_PLATFORM_LINES, type PlatformLines } from './runtime-api/log-tail';
import { systemLineWanted, type LogLevel, type LogSource } from '../sdk/core/function-logs';
import type { LayerStack } from './instances/layer-stack';
import { InstanceStarter } from './instances/instance-starter';
import type { SandboxProvider } from './sandbox/instance-sandbox';

/** One invocation as the router hands it to an agent. */
export interface AgentInvocation {
  requestId: string;
  record: FunctionRecord;
  payload: Buffer;
  /**
   * Absolute deadline of the caller, epoch ms; 0 when there is none. The function runs until the
   * earlier of this and its own timeout (counted from when its event is handed over).
   */
  deadlineMs: number;
  /** Aborts when the caller went away: a waiting invocation is not run, a running one's instance is killed. */
  signal?: AbortSignal;
  invokedFunctionArn?: string;
  clientContext?: string;
  /** The function's execution-role credentials for this invocation (STRATUS_TOKEN inside), if it has a role. */
  sessionToken?: string;
  /** The router API address the function's SDK calls (STRATUS_ENDPOINT inside). */
  apiEndpoint?: string;
}

/** What happened to an invocation on this agent. */
export type AgentOutcome =
  | { kind: 'refused'; reason: 'AtCapacity' | 'Draining'; message: string }
  | {
      kind: 'completed';
      payload: Buffer;
      functionError?: { errorType: string; errorMessage: string; stackTrace: string[] };
      logTail: string;
      durationMs: number;
      billedDurationMs: number;
      initDurationMs?: number;
      maxMemoryUsedMb: number;
      coldStart: boolean;
    };

/** Where the agent's platform lines and instances' lines go: the function's log stream (node-agent/logs/log-shipper.ts). */
export interface FunctionLogSink {
  line(functionName: string, instanceId: string, requestId: string | undefined, source: LogSource, message: string, level: LogLevel | ''): void;
}

/** Lifecycle of the agent. */
export type AgentLifecycle = 'running' | 'draining' | 'closed';

/** What an Agent is built from; main.ts wires these. */
export interface AgentDeps {
  pool: InstancePool;
  codeCache: CodeCache;
  tracer: Tracer;
  logger: Logger;
  region: string;
  accountId: string;
  nodeBinary: string;
  pythonBinary: string;
  runtimesDir: string;
  sandboxes: SandboxProvider;
  layerStack: LayerStack;
  initTimeoutMs: number;
  billingGranularityMs: number;
  /** The function log streams. */
  logs: FunctionLogSink;
  /** Told of every invocation this agent ran, for its metrics. */
  onInvocation?: (record: FunctionRecord, outcome: Extract<AgentOutcome, { kind: 'completed' }>) => void;
  /** Where this agent's sandboxes reach a router's API (STRATUS_FUNCTION_API_ENDPOINT); unset: the invoking router's address. */
  functionApiEndpoint?: string;
}

/**
 * Runs invocations on warm or new instances and has the last word on admission: it refuses
 * work it has no room for, and the router tries elsewhere.
 */
export class Agent {
  lifecycle: AgentLifecycle = 'running';
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];

  private readonly starter: InstanceStarter;

  constructor(private readonly deps: AgentDeps) {
    this.starter = new InstanceStarter(deps);
  }

  /**
   * Runs one invocation, or refuses it before anything started. Rejects with Timeout when the
   * caller's deadline passed before its event could be handed over, and with Cancelled when the
   * caller aborted first; nothing ran then.
   */
  async invoke(inv: AgentInvocation): Promise<AgentOutcome> {
    if (this.lifecycle !== 'running') return { kind: 'refused', reason: 'Draining', message: 'agent is draining' };
    checkCaller(inv, 'an instance was chosen');
    const { pool } = this.deps;
    const warm = pool.takeIdle(inv.record);
    const instance = warm ?? pool.admit(inv.record);
    if (!instance) {
      const c = inv.record.config;
      return { kind: 'refused', reason: 'AtCapacity', message: `no room for ${c.memoryMb} MB more memory${pool.tracksDisk ? ` and ${c.ephemeralStorageMb} MB of /tmp disk` : ''} on this agent` };
    }
    this.inflight += 1;
    try {
      return await this.run(instance, inv, warm === undefined);
    } finally {
      this.inflight -= 1;
      if (this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Stops taking new work and resolves when running invocations have finished. */
  drain(): Promise<void> {
    if (this.lifecycle === 'running') this.lifecycle = 'draining';
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async run(instance: Instance, inv: AgentInvocation, cold: boolean): Promise<AgentOutcome> {
    const outcome = await this.runOn(instance, inv, cold);
    // Nothing ran (the warm runtime exited before taking the event): start over as a new arrival,
    // on another instance here or refused for the router to place elsewhere.
    if (outcome === NOT_STARTED) return this.invoke(inv);
    if (outcome.kind === 'completed') this.deps.onInvocation?.(inv.record, outcome);
    return outcome;
  }

  private async runOn(instance: Instance, inv: AgentInvocation, cold: boolean): Promise<AgentOutcome | typeof NOT_STARTED> {
    const { record } = inv;
    const tail = new LogTail();
    const lines: PlatformLines = record.config.logging?.format === 'JSON' ? JSON_PLATFORM_LINES : TEXT_PLATFORM_LINES;
    // A platform line goes to the tail and the log stream, unless the system log level hides it.
    const platform = (text: string): void => {
      if (record.config.logging && !systemLineWanted(record.config.logging, 'INFO')) return;
      tail.push(text);
      this.deps.logs.line(record.config.name, instance.id, inv.requestId, 'platform', text, 'INFO');
    };
    let initDurationMs: number | undefined;
    if (cold) {
      // Failing to fetch code or plan the launch is the platform's error, not the function's.
      // A cancel during the start stops the half-started instance; its start then resolves failed or rejects.
      const onAbort = (): void => this.deps.pool.remove(instance);
      inv.signal?.addEventListener('abort', onAbort, { once: true });
      let started;
      try {
        started = await this.starter.start(instance, record, inv.signal);
      } catch (err) {
        this.deps.pool.remove(instance);
        throw err;
      } finally {
        inv.signal?.removeEventListener('abort', onAbort);
      }
      if (inv.signal?.aborted) {
        this.deps.pool.remove(instance);
        throw new StratusError('Cancelled', 'the caller cancelled the invocation while its instance was starting');
      }
      if (started.kind === 'failed') {
        this.deps.pool.remove(instance);
        // Lambda hands an init failure to the invocation that triggered it, as a function error.
        const r = started.report;
        platform(lines.start(inv.requestId, record.version));
        platform(lines.end(inv.requestId, 'failure'));
        return {
          kind: 'completed',
          payload: r.body,
          functionError: { errorType: r.errorType, errorMessage: r.errorMessage, stackTrace: r.stackTrace },
          logTail: tail.text(),
          durationMs: 0,
          billedDurationMs: 0,
          maxMemoryUsedMb: 0,
          coldStart: true,
        };
      }
      initDurationMs = started.initDurationMs;
    }
    // A cold start takes time of its own; the instance it left is ready and stays in the pool.
    if (cold) checkCaller(inv, 'the instance had started');
    const timeoutMs = record.config.timeoutSeconds * 1000;
    const now = Date.now();
    // Lambda's own deadline, cut short by the caller's: past it the caller is gone, so the instance is killed as on a timeout.
    const deadlineMs = inv.deadlineMs > 0 ? Math.min(inv.deadlineMs, now + timeoutMs) : now + timeoutMs;
    const begin = performance.now();
    platform(lines.start(inv.requestId, record.version));
    const outcome = await this.deps.tracer.startActiveSpan('stratus.function.invoke', async (span) => {
      span.setAttribute('faas.invocation_id', inv.requestId);
      span.setAttribute('faas.coldstart', cold);
      try {
        return await instance.invoke(
          {
            requestId: inv.requestId,
            payload: inv.payload,
            deadlineMs,
            invokedFunctionArn: inv.invokedFunctionArn || functionArn(this.deps.region, this.deps.accountId, record.config.name),
            clientContext: inv.clientContext,
            sessionToken: inv.sessionToken,
            apiEndpoint: this.deps.functionApiEndpoint ?? inv.apiEndpoint,
            // The function's own spans become children of this invocation span.
            traceparent: toTraceparent(span.spanContext()),
            xrayTraceId: toXrayTraceHeader(span.spanContext()),
          },
          { timeoutMs, killAfterMs: deadlineMs - now, signal: inv.signal },
          tail,
        );
      } finally {
        span.end();
      }
    });
    if (outcome.kind === 'error' && outcome.notStarted) return NOT_STARTED;
    const durationMs = performance.now() - begin;
    const maxMemoryUsedMb = await instance.maxMemoryUsedMb();
    const billedDurationMs = billedDuration(durationMs, this.deps.billingGranularityMs);
    const status = outcome.kind === 'response' ? 'success' : outcome.report.errorType === 'Sandbox.Timedout' ? 'timeout' : outcome.fatal ? 'failure' : 'error';
    platform(lines.end(inv.requestId, status));
    platform(lines.report({ requestId: inv.requestId, durationMs, billedDurationMs, memorySizeMb: record.config.memoryMb, maxMemoryUsedMb, initDurationMs }, status));
    const base = { kind: 'completed' as const, logTail: tail.text(), durationMs, billedDurationMs, initDurationMs, maxMemoryUsedMb, coldStart: cold };
    if (outcome.kind === 'response') return { ...base, payload: outcome.payload };
    const r = outcome.report;
    return { ...base, payload: r.body, functionError: { errorType: r.errorType, errorMessage: r.errorMessage, stackTrace: r.stackTrace } };
  }
}

/** runOn's answer when the instance never took the event. */
const NOT_STARTED = Symbol('not started');

/** Throws when nothing should be started for `inv` any more: the caller aborted, or its deadline passed. */
function checkCaller(inv: AgentInvocation, before: string): void {
  if (inv.signal?.aborted) throw new StratusError('Cancelled', `the caller cancelled the invocation before ${before}`);
  if (inv.deadlineMs > 0 && inv.deadlineMs <= Date.now()) {
    throw new StratusError('Timeout', `the caller's deadline passed before ${before}: nothing ran; give the call a longer timeout`);
  }
}
