import { LRUCache } from 'lru-cache';
import { StratusError } from '../../sdk/core/errors';
import { validateFunctionName, type FunctionRecord } from '../../sdk/core/function-config';
import { parseQualifier, pickVersion, type AliasRecord } from '../../sdk/core/function-versions';
import type { FunctionCache } from './function-cache';
import type { VersionStore } from './version-store';

/** How long an alias is trusted before it is read again: a traffic shift takes effect within this on every router. */
const ALIAS_TTL_MS = 1000;

/**
 * The function record an invocation runs, for every entry point: $LATEST (through the function
 * cache, kept current by its watch), a published version (immutable, so cached), or an alias (read
 * at most once a second, then a version picked by its routing weights). FunctionNotFound names
 * what is missing.
 */
export class InvokeTargets {
  private readonly versions: LRUCache<string, FunctionRecord>;
  private readonly aliases: LRUCache<string, AliasRecord>;

  constructor(
    private readonly cache: Pick<FunctionCache, 'get'>,
    private readonly store: Pick<VersionStore, 'get' | 'getAlias'>,
    private readonly random: () => number = Math.random,
  ) {
    // A deleted version can be served from here for up to a minute on a router that had it.
    this.versions = new LRUCache({ max: 5000, ttl: 60_000, fetchMethod: async (key) => this.store.get(...splitKey(key)) });
    this.aliases = new LRUCache({ max: 5000, ttl: ALIAS_TTL_MS, fetchMethod: async (key) => this.store.getAlias(...splitKey(key)) });
  }

  /** The record `qualifier` names ('' or $LATEST, a version number, an alias). */
  async resolve(rawName: string, rawQualifier: string): Promise<FunctionRecord> {
    const name = validateFunctionName(rawName);
    const latest = await this.cache.get(name);
    if (!latest) throw new StratusError('FunctionNotFound', `function '${name}' does not exist: deploy it first (stratus deploy ${name} <folder>) or check the name with stratus ls`);
    const q = parseQualifier(rawQualifier);
    if (q.kind === 'latest') return latest;
    let version: string;
    if (q.kind === 'alias') {
      const alias = await this.aliases.fetch(`${name}\n${q.alias}`);
      if (!alias) throw new StratusError('FunctionNotFound', `function '${name}' has no alias '${q.alias}': stratus aliases ls ${name} lists them`);
      version = pickVersion(alias, this.random());
    } else {
      version = q.version;
    }
    const record = await this.versions.fetch(`${name}\n${version}`);
    if (!record) throw new StratusError('FunctionNotFound', `function '${name}' has no version ${version}: stratus versions ls ${name} lists them`);
    // A version keeps its function's owner, even if it was published before tenants were recorded.
    return record.tenant === undefined && latest.tenant !== undefined ? { ...record, tenant: latest.tenant } : record;
  }
}

/**
 * The record `qualifier` names, or undefined when the function, version or alias is gone (an
 * event or route made earlier that now names nothing); other failures (NATS) still throw.
 */
export async function findInvokeTarget(targets: Pick<InvokeTargets, 'resolve'>, name: string, qualifier: string): Promise<FunctionRecord | undefined> {
  try {
    return await targets.resolve(name, qualifier);
  } catch (err) {
    if (err instanceof StratusError && err.code === 'FunctionNotFound') return undefined;
    throw err;
  }
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('\n');
  return [key.slice(0, i), key.slice(i + 1)];
}
