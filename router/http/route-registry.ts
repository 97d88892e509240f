import type { KV, KvEntry } from '@nats-io/kv';
import { StratusError } from '../../sdk/core/errors';
import { natsFailure, viaNats } from '../../sdk/platform/nats-errors';
import { isLive, isRevisionConflict, writeIfUnchanged } from '../../sdk/platform/kv-records';
import type { FunctionUrlRecord, RouteAuth, RouteRecord } from '../../sdk/core/http-route';

/** A change to the routes bucket, seen through the watch or made by this router. */
export type RouteChange =
  | { kind: 'route'; id: string; record: RouteRecord | undefined; revision: number }
  | { kind: 'url'; functionName: string; record: FunctionUrlRecord | undefined; revision: number };

const ROUTE_PREFIX = 'route.';
const URL_PREFIX = 'url.';

function routeKey(id: string): string {
  return `${ROUTE_PREFIX}${id}`;
}

function urlKey(functionName: string): string {
  return `${URL_PREFIX}${functionName}`;
}

/** Turns a stored entry into a change; undefined for keys this version does not know. */
export function changeOf(entry: KvEntry): RouteChange | undefined {
  const present = isLive(entry);
  if (entry.key.startsWith(ROUTE_PREFIX)) {
    return { kind: 'route', id: entry.key.slice(ROUTE_PREFIX.length), record: present ? entry.json<RouteRecord>() : undefined, revision: entry.revision };
  }
  if (entry.key.startsWith(URL_PREFIX)) {
    return { kind: 'url', functionName: entry.key.slice(URL_PREFIX.length), record: present ? entry.json<FunctionUrlRecord>() : undefined, revision: entry.revision };
  }
  return undefined;
}

function sameTarget(a: Pick<RouteRecord, 'functionName' | 'auth' | 'qualifier'>, b: Pick<RouteRecord, 'functionName' | 'auth' | 'qualifier'>): boolean {
  return a.functionName === b.functionName && a.auth === b.auth && (a.qualifier ?? '') === (b.qualifier ?? '');
}

/**
 * Routes and function URLs in a JetStream KV bucket. A route's key is its id, which is derived
 * from the route key, so a KV create makes "one route per route key" hold across routers.
 * Every write returns the change it made, so the writing router can serve it at once.
 */
export class RouteRegistry {
  constructor(private readonly kv: KV) {}

  /**
   * Stores a route. The same route key with the same target returns what is stored (so a
   * repeated create, as from a template, changes nothing); another target is ResourceConflict.
   */
  async createRoute(route: RouteRecord): Promise<{ record: RouteRecord; change?: RouteChange }> {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        const revision = await this.kv.create(routeKey(route.id), JSON.stringify(route));
        return { record: route, change: { kind: 'route', id: route.id, record: route, revision } };
      } catch (err) {
        if (!isRevisionConflict(err)) throw natsFailure(`storing route ${route.routeKey}`, err);
      }
      const existing = await this.getRoute(route.id);
      // Deleted in between: try the create again.
      if (!existing) continue;
      if (sameTarget(existing, route)) return { record: existing };
      throw new StratusError(
        'ResourceConflict',
        `route ${existing.routeKey} already exists (id ${existing.id}, function ${existing.functionName}, auth ${existing.auth}): remove it first with stratus routes rm ${existing.id}`,
      );
    }
    throw new StratusError('ResourceConflict', `route ${route.routeKey} is being changed concurrently: retry`);
  }

  /** One route, or undefined. */
  async getRoute(id: string): Promise<RouteRecord | undefined> {
    const entry = await viaNats(`reading route ${id}`, () => this.kv.get(routeKey(id)));
    return isLive(entry) ? entry.json<RouteRecord>() : undefined;
  }

  /** Deletes a route; ResourceNotFound when absent. */
  async deleteRoute(id: string): Promise<RouteChange> {
    if (!/^[0-9a-f]{1,64}$/.test(id) || !(await this.getRoute(id))) {
      throw new StratusError('ResourceNotFound', `route '${id}' does not exist: list routes and their ids with stratus routes ls`);
    }
    return this.deleteKey(routeKey(id), `deleting route ${id}`);
  }

  /** Creates or updates a function's URL. `auth` undefined keeps an existing URL's auth, or uses `defaultAuth`. */
  async putFunctionUrl(functionName: string, auth: RouteAuth | undefined, defaultAuth: RouteAuth): Promise<{ record: FunctionUrlRecord; change?: RouteChange }> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const entry = await viaNats(`reading the URL of '${functionName}'`, () => this.kv.get(urlKey(functionName)));
      const current = isLive(entry) ? entry.json<FunctionUrlRecord>() : undefined;
      if (current && (auth === undefined || auth === current.auth)) return { record: current };
      const record: FunctionUrlRecord = { functionName, auth: auth ?? defaultAuth, createdMs: current?.createdMs ?? Date.now() };
      // Compare-and-set on what was read, so two routers changing one URL never lose a write.
      const revision = await writeIfUnchanged(this.kv, urlKey(functionName), JSON.stringify(record), entry, `storing the URL of '${functionName}'`);
      if (revision !== undefined) return { record, change: { kind: 'url', functionName, record, revision } };
    }
    throw new StratusError('ResourceConflict', `the URL of '${functionName}' is being changed concurrently: retry`);
  }

  /** A function's URL, or undefined. */
  async getFunctionUrl(functionName: string): Promise<FunctionUrlRecord | undefined> {
    const entry = await viaNats(`reading the URL of '${functionName}'`, () => this.kv.get(urlKey(functionName)));
    return isLive(entry) ? entry.json<FunctionUrlRecord>() : undefined;
  }

  /** Removes a function's URL; ResourceNotFound when it has none. */
  async deleteFunctionUrl(functionName: string): Promise<RouteChange> {
    if (!(await this.getFunctionUrl(functionName))) {
      throw new StratusError('ResourceNotFound', `function '${functionName}' has no URL: give it one with stratus url ${functionName}`);
    }
    return this.deleteKey(urlKey(functionName), `deleting the URL of '${functionName}'`);
  }

  /**
   * Deletes a key and returns the key's state right after as a change. KV deletes do not return
   * a revision; reading the key back does, and if another router wrote it in between, the change
   * says so instead of hiding that write.
   */
  private async deleteKey(key: string, what: string): Promise<RouteChange> {
    const after = await viaNats(what, async () => {
      await this.kv.delete(key);
      return this.kv.get(key);
    });
    const change = after ? changeOf(after) : undefined;
    if (!change) throw new StratusError('Internal', `${what}: the key could not be read back; retry`);
    return change;
  }

  /** Every stored route and URL as changes, for loading a table from scratch. */
  async snapshot(): Promise<RouteChange[]> {
    return viaNats('reading routes', async () => {
      const keys: string[] = [];
      for await (const k of await this.kv.keys()) keys.push(k);
      const entries = await Promise.all(keys.map((k) => this.kv.get(k)));
      return entries.flatMap((e) => (e ? [changeOf(e)].filter((c): c is RouteChange => c !== undefined) : []));
    });
  }

  /**
   * Calls `onChange` for every change made from now on, until `signal` aborts; `onStarted` runs
   * once the watch is in place, so a snapshot taken then misses nothing.
   */
  async watch(onChange: (change: RouteChange) => void, onStarted: () => Promise<void>, signal: AbortSignal): Promise<void> {
    const iter = await this.kv.watch({ include: 'updates' });
    const stop = (): void => iter.stop();
    signal.addEventListener('abort', stop, { once: true });
    try {
      await onStarted();
      for await (const entry of iter) {
        const change = changeOf(entry);
        if (change) onChange(change);
      }
    } finally {
      signal.removeEventListener('abort', stop);
    }
  }
}
