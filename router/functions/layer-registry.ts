import type { KV } from '@nats-io/kv';
import { StratusError } from '../../sdk/core/errors';
import { viaNats } from '../../sdk/platform/nats-errors';
import { decodeRecord, isLive, isRevisionConflict, listKeys, listRecords } from '../../sdk/platform/kv-records';
import { LIMITS } from '../../sdk/core/limits';
import { parseLayerRef, type CodeRef, type FunctionConfig, type ResolvedLayer } from '../../sdk/core/function-config';
import type { RuntimeName } from '../../sdk/core/runtimes';

/** One immutable layer version. */
export interface LayerVersionRecord {
  name: string;
  version: number;
  code: CodeRef;
  compatibleRuntimes: RuntimeName[];
  description: string;
  createdMs: number;
}

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

function key(name: string, version: number): string {
  return `layer.${name}.${version}`;
}

/** Validates a layer name. */
export function validateLayerName(name: string): string {
  if (!NAME_PATTERN.test(name)) throw new StratusError('InvalidRequest', `invalid layer name '${name}': use 1-64 letters, digits, '-' or '_'`);
  return name;
}

/** Layer versions in a JetStream KV bucket; a version number is claimed with a create, so two routers never reuse one. */
export class LayerRegistry {
  constructor(private readonly kv: KV) {}

  /** Stores the next version of a layer. */
  async publish(name: string, code: CodeRef, compatibleRuntimes: RuntimeName[], description: string): Promise<LayerVersionRecord> {
    validateLayerName(name);
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const latest = (await this.versions(name)).at(-1)?.version ?? 0;
      const record: LayerVersionRecord = { name, version: latest + 1, code, compatibleRuntimes, description, createdMs: Date.now() };
      try {
        await this.kv.create(key(name, record.version), JSON.stringify(record));
        return record;
      } catch (err) {
        // Another router published the same number first: take the next.
        if (!isRevisionConflict(err)) throw err;
      }
    }
    throw new StratusError('RevisionConflict', `layer '${name}' is being published concurrently: retry`);
  }

  /** Every version of a layer, oldest first. */
  async versions(name: string): Promise<LayerVersionRecord[]> {
    validateLayerName(name);
    const out = await viaNats('listing layer versions', () => listRecords(this.kv, `layer.${name}.*`, (e) => decodeRecord<LayerVersionRecord>(e)));
    return out.sort((a, b) => a.version - b.version);
  }

  /** The latest version of every layer. */
  async latestOfEach(): Promise<LayerVersionRecord[]> {
    const keys = await viaNats('listing layers', () => listKeys(this.kv, 'layer.>'));
    const names = new Set(keys.map((k) => k.split('.')[1] ?? ''));
    const out: LayerVersionRecord[] = [];
    for (const name of [...names].filter(Boolean).sort()) {
      const last = (await this.versions(name)).at(-1);
      if (last) out.push(last);
    }
    return out;
  }

  /** One version; InvalidRequest naming the fix when absent. */
  async get(name: string, version: number): Promise<LayerVersionRecord> {
    validateLayerName(name);
    const entry = await viaNats('reading a layer version', () => this.kv.get(key(name, version)));
    if (!isLive(entry)) {
      throw new StratusError('InvalidRequest', `layer ${name}:${version} does not exist: publish it with stratus layers publish ${name} <folder>, or list versions with stratus layers get ${name}`);
    }
    return entry.json<LayerVersionRecord>();
  }

  /** Deletes a version. Functions already using it keep working: its code stays in the store. */
  async delete(name: string, version: number): Promise<void> {
    await this.get(name, version);
    await viaNats('deleting a layer version', () => this.kv.delete(key(name, version)));
  }

  /**
   * Resolves a function's layer references to their code, checking each exists, suits the
   * runtime, and that code plus layers stay within the unpacked limit.
   */
  async resolve(config: FunctionConfig, runtime: RuntimeName, code: CodeRef): Promise<ResolvedLayer[]> {
    const resolved: ResolvedLayer[] = [];
    let unpacked = code.unpackedSize;
    for (const ref of config.layers) {
      const { name, version } = parseLayerRef(ref);
      const layer = await this.get(name, version);
      if (layer.compatibleRuntimes.length > 0 && !layer.compatibleRuntimes.includes(runtime)) {
        throw new StratusError('InvalidRequest', `layer ${ref} is for ${layer.compatibleRuntimes.join(', ')}, not ${runtime}: pick a layer built for ${runtime}`);
      }
      unpacked += layer.code.unpackedSize;
      resolved.push({ ref: `${name}:${version}`, code: layer.code });
    }
    if (unpacked > LIMITS.maxUnpackedBytes) {
      throw new StratusError('InvalidCode', `code and layers unpack to ${Math.round(unpacked / 1024 / 1024)} MB, over the ${LIMITS.maxUnpackedBytes / 1024 / 1024} MB limit: trim the bundle or the layers`);
    }
    return resolved;
  }
}
