import { LRUCache } from 'lru-cache';
import { toStratusError } from '../../sdk/core/errors';
import type { FunctionUrlRecord, RouteRecord } from '../../sdk/core/http-route';
import type { Logger } from '../../sdk/platform/logger';
import type { RouteChange, RouteRegistry } from './route-registry';
import { RouteTable } from './route-table';

/** Options for {@link LiveRoutes}. */
export interface LiveRoutesOptions {
  /** Delay before a failed watch is started again. Default 500. */
  restartDelayMs?: number;
  /** Changes buffered while a snapshot loads before the load starts over. Default 10000. */
  maxBufferedChanges?: number;
  /** Deleted keys remembered so a late, older write cannot bring them back. Default 10000. */
  maxTombstones?: number;
}

interface Held<T> {
  record: T;
  revision: number;
}

/** Where the live table is in its life. */
type State = 'idle' | 'loading' | 'watching' | 'restarting' | 'stopped';

/**
 * This router's copy of every route and function URL, kept fresh by a KV watch so each request
 * is matched in memory. Changes are ordered by KV revision, never by clocks. After a watch
 * failure the table keeps serving what it had (stale beats empty: a gateway that forgot its
 * routes would answer 404 to everything) until a new snapshot replaces it.
 */
export class LiveRoutes {
  private readonly routes = new Map<string, Held<RouteRecord>>();
  private readonly urls = new Map<string, Held<FunctionUrlRecord>>();
  private readonly tombstones: LRUCache<string, number>;
  private readonly abort = new AbortController();
  private readonly options: Required<LiveRoutesOptions>;
  private compiled: RouteTable | undefined;
  private state: State = 'idle';
  private loop: Promise<void> | undefined;
  private started: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly registry: RouteRegistry,
    private readonly logger: Logger,
    options: LiveRoutesOptions = {},
  ) {
    this.options = { restartDelayMs: options.restartDelayMs ?? 500, maxBufferedChanges: options.maxBufferedChanges ?? 10_000, maxTombstones: options.maxTombstones ?? 10_000 };
    this.tombstones = new LRUCache<string, number>({ max: this.options.maxTombstones });
  }

  /** Starts the watch; resolves once the stored routes are loaded, rejects if the first load fails. Idempotent. */
  start(): Promise<void> {
    this.started ??= new Promise<void>((resolve, reject) => {
      this.loop = this.run(resolve, reject);
    });
    return this.started;
  }

  /** Stops the watch. Runs once and returns the same promise after. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.abort.abort();
      await this.loop;
      this.state = 'stopped';
    })();
    return this.stopping;
  }

  /** True while the watch runs, so the table follows every change. */
  get watching(): boolean {
    return this.state === 'watching';
  }

  /** The compiled route table, rebuilt only after a change. */
  table(): RouteTable {
    this.compiled ??= RouteTable.compile([...this.routes.values()].map((h) => h.record));
    return this.compiled;
  }

  /** A function's URL, if it has one. */
  functionUrl(functionName: string): FunctionUrlRecord | undefined {
    return this.urls.get(functionName)?.record;
  }

  /** Every function URL, by function name. */
  functionUrls(): FunctionUrlRecord[] {
    return [...this.urls.values()].map((h) => h.record).sort((a, b) => a.functionName.localeCompare(b.functionName));
  }

  /** Applies a change unless something as new or newer is already held (or was deleted). */
  apply(change: RouteChange): void {
    if (change.kind === 'url') {
      this.applyTo(this.urls, `url.${change.functionName}`, change.functionName, change.record, change.revision);
    } else if (this.applyTo(this.routes, `route.${change.id}`, change.id, change.record, change.revision)) {
      this.compiled = undefined;
    }
  }

  /** Returns true when the change was newer than what is held, and so applied. */
  private applyTo<T>(map: Map<string, Held<T>>, tombstoneKey: string, id: string, record: T | undefined, revision: number): boolean {
    const held = map.get(id);
    if (held && held.revision >= revision) return false;
    if ((this.tombstones.get(tombstoneKey) ?? 0) >= revision) return false;
    if (record) map.set(id, { record, revision });
    else {
      map.delete(id);
      this.tombstones.set(tombstoneKey, revision);
    }
    return true;
  }

  /** Replaces everything held with a snapshot: what is not in it was deleted while no watch ran. */
  private replace(snapshot: RouteChange[]): void {
    this.routes.clear();
    this.urls.clear();
    this.tombstones.clear();
    this.compiled = undefined;
    for (const change of snapshot) this.apply(change);
  }

  private async run(loaded: () => void, failed: (err: Error) => void): Promise<void> {
    let first = true;
    const { signal } = this.abort;
    while (!signal.aborted) {
      this.state = 'loading';
      try {
        // Changes seen while the snapshot loads wait here, then apply in order on top of it.
        let buffer: RouteChange[] | undefined = [];
        await this.registry.watch(
          (change) => {
            if (!buffer) return this.apply(change);
            if (buffer.length >= this.options.maxBufferedChanges) throw new Error('too many route changes while loading the snapshot');
            buffer.push(change);
          },
          async () => {
            this.replace(await this.registry.snapshot());
            for (const change of buffer ?? []) this.apply(change);
            buffer = undefined;
            this.state = 'watching';
            if (first) loaded();
            first = false;
          },
          signal,
        );
      } catch (err) {
        if (first) {
          failed(toStratusError(err));
          return;
        }
        if (!signal.aborted) this.logger.warn('route watch failed; serving the last known routes and restarting', { err: toStratusError(err) });
      }
      if (signal.aborted) break;
      this.state = 'restarting';
      await new Promise((r) => setTimeout(r, this.options.restartDelayMs).unref());
    }
    this.state = 'stopped';
  }
}
