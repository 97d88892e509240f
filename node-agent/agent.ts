import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Tracer } from '@opentelemetry/api';
import { SpanStatusCode } from '@opentelemetry/api';
import { functionArn, type FunctionRecord } from '../sdk/core/function-config';
import type { Logger } from '../sdk/platform/logger';
import { toTraceparent, toXrayTraceHeader } from '../sdk/core/trace-context';
import type { CodeCache } from './instances/code-cache';
import type { Instance, StartOutcome } from './instances/instance';
import type { InstancePool } from './instances/instance-pool';
import { billedDuration, endLine, LogTail, reportLine, startLine } from './runtime-api/log-tail';
import type { LayerStack } from './instances/layer-stack';
import { planLaunch } from './instances/runtime-launch';
import type { SandboxProvider } from './sandbox/instance-sandbox';

/** One invocation as the router hands it to an agent. */
export interface AgentInvocation {
  requestId: string;
  record: FunctionRecord;
  payload: Buffer;
  /** Absolute deadline of the caller, epoch ms; the function's own timeout still applies. */
  deadlineMs: number;
  invokedFunctionArn?: string;
  clientContext?: string;
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
}

/**
 * Runs invocations on warm or new instances and has the last word on admission: it refuses
 * work it has no room for, and the router tries elsewhere.
 */
export class Agent {
  lifecycle: AgentLifecycle = 'running';
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly deps: AgentDeps) {}

  /** Runs one invocation, or refuses it before anything started. */
  async invoke(inv: AgentInvocation): Promise<AgentOutcome> {
    if (this.lifecycle !== 'running') return { kind: 'refused', reason: 'Draining', message: 'agent is draining' };
    const { pool } = this.deps;
    const warm = pool.takeIdle(inv.record);
    const instance = warm ?? pool.admit(inv.record);
    if (!instance) {
      return { kind: 'refused', reason: 'AtCapacity', message: `no room for ${inv.record.config.memoryMb} MB more on this agent` };
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
    const { record } = inv;
    const tail = new LogTail();
    let initDurationMs: number | undefined;
    if (cold) {
      // Failing to fetch code or plan the launch is the platform's error, not the function's.
      const started = await this.startInstance(instance, record).catch((err: unknown) => {
        this.deps.pool.remove(instance);
        throw err;
      });
      if (started.kind === 'failed') {
        this.deps.pool.remove(instance);
        // Lambda hands an init failure to the invocation that triggered it, as a function error.
        const r = started.report;
        tail.push(startLine(inv.requestId, record.version));
        tail.push(endLine(inv.requestId));
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
    const timeoutMs = record.config.timeoutSeconds * 1000;
    const begin = performance.now();
    tail.push(startLine(inv.requestId, record.version));
    const outcome = await this.deps.tracer.startActiveSpan('stratus.function.invoke', async (span) => {
      span.setAttribute('faas.invocation_id', inv.requestId);
      span.setAttribute('faas.coldstart', cold);
      try {
        return await instance.invoke(
          {
            requestId: inv.requestId,
            payload: inv.payload,
            deadlineMs: Date.now() + timeoutMs,
            invokedFunctionArn: inv.invokedFunctionArn || functionArn(this.deps.region, this.deps.accountId, record.config.name),
            clientContext: inv.clientContext,
            // The function's own spans become children of this invocation span.
            traceparent: toTraceparent(span.spanContext()),
            xrayTraceId: toXrayTraceHeader(span.spanContext()),
          },
          timeoutMs,
          tail,
        );
      } finally {
        span.end();
      }
    });
    // Nothing ran (the warm runtime exited before taking the event): start over as a new arrival,
    // on another instance here or refused for the router to place elsewhere.
    if (outcome.kind === 'error' && outcome.notStarted) return this.invoke(inv);
    const durationMs = performance.now() - begin;
    const maxMemoryUsedMb = await instance.maxMemoryUsedMb();
    const billedDurationMs = billedDuration(durationMs, this.deps.billingGranularityMs);
    tail.push(endLine(inv.requestId));
    tail.push(
      reportLine({ requestId: inv.requestId, durationMs, billedDurationMs, memorySizeMb: record.config.memoryMb, maxMemoryUsedMb, initDurationMs }),
    );
    const base = { kind: 'completed' as const, logTail: tail.text(), durationMs, billedDurationMs, initDurationMs, maxMemoryUsedMb, coldStart: cold };
    if (outcome.kind === 'response') return { ...base, payload: outcome.payload };
    const r = outcome.report;
    return { ...base, payload: r.body, functionError: { errorType: r.errorType, errorMessage: r.errorMessage, stackTrace: r.stackTrace } };
  }

  private async startInstance(
    instance: Instance,
    record: FunctionRecord,
  ): Promise<StartOutcome> {
    return this.deps.tracer.startActiveSpan('stratus.instance.start', async (span) => {
      span.setAttribute('faas.name', record.config.name);
      span.setAttribute('stratus.runtime', record.runtime);
      try {
        const codeDir = await this.deps.codeCache.ensure(record.code);
        const layersDir = await this.deps.layerStack.ensure(record.layers);
        const standby = this.deps.pool.claimStandby(instance);
        // A pre-started runtime: its sandbox takes this function's code, layers and limits (while the Runtime API starts listening), then its environment.
        const assigning = standby?.sandbox?.assign(record, codeDir, layersDir).then(
          () => true,
          (err: unknown) => {
            this.deps.logger.warn('could not hand a pre-started runtime its function; starting a new one', { function: record.config.name, error: (err as Error).message });
            void standby.discard();
            return false;
          },
        );
        const runtimeApi = await instance.listen().catch(async (err: unknown) => {
          if (standby && (await assigning)) void standby.discard();
          throw err;
        });
        if (standby?.sandbox && assigning) {
          // One that died waiting (after it was taken) is the platform's loss, not this function's init error.
          if ((await assigning) && standby.alive()) {
            span.setAttribute('stratus.prestarted', true);
            const { env } = planLaunch({ record, instanceId: instance.id, paths: standby.sandbox.paths, hostCodeDir: codeDir, hostLayersDir: layersDir, runtimeApi, region: this.deps.region, nodeBinary: this.deps.nodeBinary, pythonBinary: this.deps.pythonBinary });
            const started = await instance.adopt(standby, env, this.deps.initTimeoutMs);
            if (started.kind === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: started.report.errorType });
            return started;
          }
          void standby.discard();
        } else if (standby) {
          void standby.discard();
        }
        const runtimeChannel = await this.listenChannel(instance, record);
        const sandbox = await this.deps.sandboxes.create({ instanceId: instance.id, record, codeDir, layersDir, runtimesDir: this.deps.runtimesDir });
        if (sandbox.runtimeApiSocket) await instance.listenUnix(sandbox.runtimeApiSocket);
        let plan;
        try {
          plan = planLaunch({
            record,
            instanceId: instance.id,
            paths: sandbox.paths,
            hostCodeDir: codeDir,
            hostLayersDir: layersDir,
            runtimeApi,
            runtimeChannel,
            region: this.deps.region,
            nodeBinary: this.deps.nodeBinary,
            pythonBinary: this.deps.pythonBinary,
          });
        } catch (err) {
          await sandbox.release();
          throw err;
        }
        const started = await instance.start(plan, sandbox, this.deps.initTimeoutMs);
        if (started.kind === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: started.report.errorType });
        return started;
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  /**
   * Serves a Node.js instance's Runtime API on an abstract Unix socket as well: the built-in
   * runtime opens its frame channel there, which costs less per frame than loopback TCP. Abstract
   * names belong to the network namespace, so an instance without network keeps to TCP through its
   * relay; the name is random, so only the instance it is handed to can find it. Undefined when the
   * socket cannot be made (the runtime then uses TCP).
   */
  private async listenChannel(instance: Instance, record: FunctionRecord): Promise<string | undefined> {
    if (record.runtime !== 'nodejs' || record.config.networkDisabled || process.platform !== 'linux') return undefined;
    const name = `stratus-rt-${randomBytes(12).toString('hex')}`;
    try {
      await instance.listenUnix(`\0${name}`);
      return `@${name}`;
    } catch (err) {
      this.deps.logger.warn('could not open the abstract Runtime API socket; the instance uses loopback TCP', { error: (err as Error).message });
      return undefined;
    }
  }
}
