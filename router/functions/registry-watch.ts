import type { Logger } from '../../sdk/platform/logger';
import type { FunctionCache } from './function-cache';
import type { FunctionRegistry } from './function-registry';

/** Options for {@link RegistryWatch}. */
export interface RegistryWatchOptions {
  /** Pause before a failed watch is opened again. Default 500 (RouterOptions.registryWatchRetryMs). */
  retryDelayMs: number;
}

/** Dependencies of {@link RegistryWatch}: the registry's watch and the cache it keeps fresh. */
export interface RegistryWatchDeps {
  registry: Pick<FunctionRegistry, 'watch'>;
  cache: Pick<FunctionCache, 'apply' | 'clear'>;
  logger: Pick<Logger, 'warn'>;
}

type State = 'new' | 'running' | 'stopped';

/**
 * Keeps the function cache fresh from the registry's KV watch, opening the watch again after a
 * failure. Each (re)start clears the cache first: what changed while no watch ran is unknown, so
 * reads start from the store again. Until the watch runs again the cache may be briefly stale,
 * which readiness reports through {@link problem}.
 *
 * Started once and stopped once: {@link stop} aborts the watch and returns the loop's promise,
 * the same one on every call.
 */
export class RegistryWatch {
  private state: State = 'new';
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private watching = false;
  private wakeRetry: (() => void) | undefined;

  constructor(
    private readonly deps: RegistryWatchDeps,
    private readonly options: RegistryWatchOptions,
  ) {}

  /** Whether a watch is open now. */
  get healthy(): boolean {
    return this.watching;
  }

  /** Why readiness should fail, or undefined while the watch runs. */
  problem(): string | undefined {
    return this.watching ? undefined : 'registry watch not running';
  }

  /** Opens the watch and keeps it open until {@link stop}. Starting twice, or after stop, is a bug. */
  start(): void {
    if (this.state !== 'new') throw new Error(`registry watch cannot start: it is ${this.state}`);
    this.state = 'running';
    this.loop = this.run();
  }

  /** Closes the watch; resolves when the loop has ended. Every call returns the same promise. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'stopped';
      this.abort.abort();
      this.wakeRetry?.();
      await this.loop;
    })();
    return this.stopping;
  }

  private async run(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      try {
        this.watching = true;
        // Whatever changed while no watch ran is unknown: start from the store again.
        this.deps.cache.clear();
        await this.deps.registry.watch((change) => this.deps.cache.apply(change), signal);
      } catch (err) {
        this.deps.logger.warn('registry watch failed; restarting', { err });
      } finally {
        this.watching = false;
      }
      if (!signal.aborted) await this.pause();
    }
  }

  /** Waits out the retry delay, or less when stop comes first. */
  private pause(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.options.retryDelayMs);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeRetry = done;
    }).finally(() => (this.wakeRetry = undefined));
  }
}
