import { randomBytes } from 'node:crypto';
import type { Tracer } from '@opentelemetry/api';
import { SpanStatusCode } from '@opentelemetry/api';
import { StratusError } from '../../sdk/core/errors';
import type { FunctionRecord } from '../../sdk/core/function-config';
import type { Logger } from '../../sdk/platform/logger';
import type { SandboxProvider } from '../sandbox/instance-sandbox';
import type { CodeCache } from './code-cache';
import type { Instance, StartOutcome } from './instance';
import type { InstancePool } from './instance-pool';
import type { LayerStack } from './layer-stack';
import type { Standby } from './prestart-pool';
import { planLaunch } from './runtime-launch';

/** What an {@link InstanceStarter} is built from; main.ts wires these through the agent. */
export interface InstanceStarterOptions {
  pool: Pick<InstancePool, 'claimStandby'>;
  codeCache: CodeCache;
  layerStack: LayerStack;
  sandboxes: SandboxProvider;
  tracer: Tracer;
  logger: Logger;
  region: string;
  nodeBinary: string;
  pythonBinary: string;
  runtimesDir: string;
  initTimeoutMs: number;
}

/**
 * The one owner of a cold start: fetches code and layers, then adopts the pre-started runtime the
 * pool took for the instance or, without one (or when handing it over fails), launches a fresh
 * runtime in a new sandbox. Resolves ready or with the init failure; rejects for the platform's
 * own failures (and Cancelled when `signal` aborted between steps: nothing is launched then).
 */
export class InstanceStarter {
  constructor(private readonly o: InstanceStarterOptions) {}

  /** Starts `instance` (admitted by the pool) for `record`. */
  start(instance: Instance, record: FunctionRecord, signal?: AbortSignal): Promise<StartOutcome> {
    return this.o.tracer.startActiveSpan('stratus.instance.start', async (span) => {
      span.setAttribute('faas.name', record.config.name);
      span.setAttribute('stratus.runtime', record.runtime);
      try {
        const codeDir = await this.o.codeCache.ensure(record.code);
        const layersDir = await this.o.layerStack.ensure(record.layers);
        const standby = this.o.pool.claimStandby(instance);
        if (signal?.aborted) {
          if (standby) this.discard(standby);
          throw cancelled();
        }
        // A pre-started runtime: its sandbox takes this function's code, layers and limits (while the Runtime API starts listening), then its environment.
        const assigning = standby?.sandbox?.assign(record, codeDir, layersDir).then(
          () => true,
          (err: unknown) => {
            this.o.logger.warn('could not hand a pre-started runtime its function; starting a new one', { function: record.config.name, error: (err as Error).message });
            this.discard(standby);
            return false;
          },
        );
        // A sandbox with its own network serves the Runtime API at its own address; else the instance listens on the agent's loopback.
        let listening: string | undefined;
        const loopback = async (): Promise<string> => (listening ??= await instance.listen());
        const runtimeApi = standby?.sandbox
          ? (standby.sandbox.runtimeApiAddress ??
            (await loopback().catch(async (err: unknown) => {
              if (await assigning) this.discard(standby);
              throw err;
            })))
          : undefined;
        if (standby?.sandbox && assigning && runtimeApi !== undefined) {
          // One that died waiting (after it was taken) is the platform's loss, not this function's init error.
          if ((await assigning) && standby.alive() && !signal?.aborted) {
            span.setAttribute('stratus.prestarted', true);
            const { env } = planLaunch({ record, instanceId: instance.id, paths: standby.sandbox.paths, hostCodeDir: codeDir, hostLayersDir: layersDir, runtimeApi, region: this.o.region, nodeBinary: this.o.nodeBinary, pythonBinary: this.o.pythonBinary });
            return this.marked(span, await instance.adopt(standby, env, this.o.initTimeoutMs));
          }
          this.discard(standby);
        } else if (standby) {
          this.discard(standby);
        }
        if (signal?.aborted) throw cancelled();
        const sandbox = await this.o.sandboxes.create({ instanceId: instance.id, record, codeDir, layersDir, runtimesDir: this.o.runtimesDir });
        let plan;
        try {
          if (sandbox.runtimeApiSocket) await instance.listenUnix(sandbox.runtimeApiSocket);
          const address = sandbox.runtimeApiAddress ?? (await loopback());
          // Abstract socket names belong to a network namespace: only a sandbox in the agent's can reach one.
          const runtimeChannel = sandbox.sharesAgentNetwork ? await this.listenChannel(instance, record) : undefined;
          if (signal?.aborted) throw cancelled();
          plan = planLaunch({ record, instanceId: instance.id, paths: sandbox.paths, hostCodeDir: codeDir, hostLayersDir: layersDir, runtimeApi: address, runtimeChannel, region: this.o.region, nodeBinary: this.o.nodeBinary, pythonBinary: this.o.pythonBinary });
        } catch (err) {
          await sandbox.release();
          throw err;
        }
        return this.marked(span, await instance.start(plan, sandbox, this.o.initTimeoutMs));
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  private marked(span: { setStatus(s: { code: SpanStatusCode; message?: string }): unknown }, started: StartOutcome): StartOutcome {
    if (started.kind === 'failed') span.setStatus({ code: SpanStatusCode.ERROR, message: started.report.errorType });
    return started;
  }

  /** Stops a pre-started runtime this start will not use; a failure to kill or release it can only be logged. */
  private discard(standby: Standby): void {
    standby.discard().catch((err: unknown) => this.o.logger.warn('could not stop a pre-started runtime', { runtime: standby.runtime, error: (err as Error).message }));
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
      this.o.logger.warn('could not open the abstract Runtime API socket; the instance uses loopback TCP', { error: (err as Error).message });
      return undefined;
    }
  }
}

function cancelled(): StratusError {
  return new StratusError('Cancelled', 'the caller cancelled the invocation before its instance started');
}
