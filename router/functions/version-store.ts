import { randomUUID } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import { decodeFunctionRecord } from './function-registry';
import { StratusError } from '../../sdk/core/errors';
import type { FunctionRecord } from '../../sdk/core/function-config';
import { validateAliasName, validateAliasVersion, validateRouting, type AliasRecord } from '../../sdk/core/function-versions';
import { decodeRecord, isRevisionConflict, listRecords } from '../../sdk/platform/kv-records';
import { viaNats } from '../../sdk/platform/nats-errors';
import { functionKey } from '../../sdk/platform/nats-layout';

/** KV key of a published version. */
export function versionKey(name: string, version: string): string {
  return `fn.${name}.v.${version}`;
}

/** KV key of an alias. */
export function aliasKey(name: string, alias: string): string {
  return `fn.${name}.alias.${alias}`;
}

/** What a snapshot is compared on: the code and the configuration (not the revision, the time, or a version's own description). */
function sameSnapshot(a: FunctionRecord, b: FunctionRecord): boolean {
  const config = (r: FunctionRecord): string => JSON.stringify({ ...r.config, description: '' });
  return a.code.sha256 === b.code.sha256 && config(a) === config(b) && JSON.stringify(a.layers) === JSON.stringify(b.layers);
}

function versionNotFound(name: string, version: string): StratusError {
  return new StratusError('FunctionNotFound', `function '${name}' has no version ${version}: stratus versions ls ${name} lists them`);
}

function aliasNotFound(name: string, alias: string): StratusError {
  return new StratusError('ResourceNotFound', `function '${name}' has no alias '${alias}': stratus aliases ls ${name} lists them`);
}

/**
 * Published versions and aliases, in the functions bucket beside $LATEST (keys fn.<name>.v.<n> and
 * fn.<name>.alias.<alias>, which the $LATEST watch does not see). Versions are written once and
 * never changed; aliases are compare-and-set like $LATEST.
 */
export class VersionStore {
  constructor(private readonly kv: KV) {}

  /**
   * Snapshots $LATEST as the next version (Lambda's PublishVersion). When $LATEST has not changed
   * since the newest version, that version is returned instead of a new one. `codeSha256`, when
   * given, must be $LATEST's code (the guard against publishing code someone else just deployed).
   */
  async publish(name: string, options: { description: string; codeSha256: string }): Promise<FunctionRecord> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const latest = decodeFunctionRecord(await viaNats(`reading function '${name}'`, () => this.kv.get(functionKey(name))));
      if (!latest) throw new StratusError('FunctionNotFound', `function '${name}' does not exist: deploy it first (stratus deploy ${name} <folder>)`);
      if (options.codeSha256 && options.codeSha256 !== latest.code.sha256) {
        throw new StratusError('RevisionConflict', `$LATEST of '${name}' runs code ${latest.code.sha256.slice(0, 12)}…, not the ${options.codeSha256.slice(0, 12)}… you meant to publish: deploy it again, or publish without --code-sha256`);
      }
      const versions = await this.list(name);
      const newest = versions.at(-1);
      if (newest && sameSnapshot(newest, latest)) return newest;
      const number = String((newest ? Number(newest.version) : 0) + 1);
      const record: FunctionRecord = {
        ...latest,
        version: number,
        // Its own revision: instances of a version never serve $LATEST, nor the other way round.
        revisionId: randomUUID(),
        lastModifiedMs: Date.now(),
        config: { ...latest.config, description: options.description || latest.config.description },
      };
      try {
        await viaNats(`publishing version ${number} of '${name}'`, () => this.kv.create(versionKey(name, number), JSON.stringify(record)));
        return record;
      } catch (err) {
        // Another router published this number first: take the next.
        if (!isRevisionConflict(err instanceof StratusError ? err.cause : err)) throw err;
      }
    }
    throw new StratusError('RevisionConflict', `versions of '${name}' are being published concurrently: retry`);
  }

  /** A published version, or undefined. */
  async get(name: string, version: string): Promise<FunctionRecord | undefined> {
    return decodeFunctionRecord(await viaNats(`reading version ${version} of '${name}'`, () => this.kv.get(versionKey(name, version))));
  }

  /** Every published version, oldest first. */
  async list(name: string): Promise<FunctionRecord[]> {
    const records = await viaNats(`listing versions of '${name}'`, () => listRecords(this.kv, `fn.${name}.v.*`, decodeFunctionRecord));
    return records.sort((a, b) => Number(a.version) - Number(b.version));
  }

  /** Deletes a version; refused while an alias points at it, as in Lambda. */
  async delete(name: string, version: string): Promise<void> {
    if (!(await this.get(name, version))) throw versionNotFound(name, version);
    const using = (await this.aliases(name)).filter((a) => a.functionVersion === version || a.routing?.version === version);
    if (using.length > 0) throw new StratusError('ResourceConflict', `version ${version} of '${name}' is used by alias ${using.map((a) => `'${a.name}'`).join(', ')}: point the alias at another version first`);
    await viaNats(`deleting version ${version} of '${name}'`, () => this.kv.delete(versionKey(name, version)));
  }

  /** Creates an alias; ResourceConflict when it exists. */
  async createAlias(name: string, alias: string, spec: { functionVersion: string; description: string; routing?: { version: string; weight: number } }): Promise<AliasRecord> {
    validateAliasName(alias);
    const record = await this.aliasRecord(name, alias, spec);
    try {
      await viaNats(`creating alias '${alias}' of '${name}'`, () => this.kv.create(aliasKey(name, alias), JSON.stringify(record)));
    } catch (err) {
      if (!isRevisionConflict(err instanceof StratusError ? err.cause : err)) throw err;
      throw new StratusError('ResourceConflict', `function '${name}' already has an alias '${alias}': update it (stratus aliases update)`);
    }
    return record;
  }

  /** Points an alias at another version, or changes its routing. */
  async updateAlias(name: string, alias: string, spec: { functionVersion?: string; description?: string; routing?: { version: string; weight: number } | null }): Promise<AliasRecord> {
    const entry = await viaNats(`reading alias '${alias}' of '${name}'`, () => this.kv.get(aliasKey(name, alias)));
    const current = decodeRecord<AliasRecord>(entry);
    if (!entry || !current) throw aliasNotFound(name, alias);
    const next = await this.aliasRecord(name, alias, {
      functionVersion: spec.functionVersion || current.functionVersion,
      description: spec.description ?? current.description,
      routing: spec.routing === null ? undefined : (spec.routing ?? current.routing),
    });
    try {
      await viaNats(`updating alias '${alias}' of '${name}'`, () => this.kv.update(aliasKey(name, alias), JSON.stringify(next), entry.revision));
    } catch (err) {
      if (!isRevisionConflict(err instanceof StratusError ? err.cause : err)) throw err;
      throw new StratusError('RevisionConflict', `alias '${alias}' of '${name}' changed meanwhile: read it again and retry`);
    }
    return next;
  }

  async getAlias(name: string, alias: string): Promise<AliasRecord | undefined> {
    return decodeRecord<AliasRecord>(await viaNats(`reading alias '${alias}' of '${name}'`, () => this.kv.get(aliasKey(name, alias))));
  }

  async aliases(name: string): Promise<AliasRecord[]> {
    const records = await viaNats(`listing aliases of '${name}'`, () => listRecords(this.kv, `fn.${name}.alias.*`, (e) => decodeRecord<AliasRecord>(e)));
    return records.sort((a, b) => a.name.localeCompare(b.name));
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    if (!(await this.getAlias(name, alias))) throw aliasNotFound(name, alias);
    await viaNats(`deleting alias '${alias}' of '${name}'`, () => this.kv.delete(aliasKey(name, alias)));
  }

  /** Deletes every version and alias of a deleted function. */
  async dropAll(name: string): Promise<void> {
    for (const a of await this.aliases(name)) await viaNats('deleting an alias', () => this.kv.delete(aliasKey(name, a.name)));
    for (const v of await this.list(name)) await viaNats('deleting a version', () => this.kv.delete(versionKey(name, v.version)));
  }

  private async aliasRecord(name: string, alias: string, spec: { functionVersion: string; description: string; routing?: { version: string; weight: number } }): Promise<AliasRecord> {
    const version = validateAliasVersion(spec.functionVersion);
    const routing = validateRouting(version, spec.routing);
    for (const v of [version, ...(routing ? [routing.version] : [])]) if (!(await this.get(name, v))) throw versionNotFound(name, v);
    return { functionName: name, name: alias, functionVersion: version, description: spec.description, routing, revisionId: randomUUID(), lastModifiedMs: Date.now() };
  }
}
