import type { Alias, ListAliasesResponse, ListVersionsResponse } from '../../proto/gen/stratus/v1/functions';
import type { FunctionInfo as FunctionInfoPb } from '../../proto/gen/stratus/v1/common';
import { functionRecordFromPb } from '../core/wire/function-codec';
import type { UnaryCaller } from './router-transport';
import type { Stubs } from './router-stubs';
import type { FunctionInfo } from './types';

/** An alias as the SDK returns it. */
export interface AliasInfo {
  functionName: string;
  name: string;
  functionVersion: string;
  description: string;
  /** A second version taking `weight` (0-1) of the invocations, when the alias splits traffic. */
  routing?: { version: string; weight: number };
  revisionId: string;
  lastModified: Date;
}

function aliasFromPb(a: Alias): AliasInfo {
  return {
    functionName: a.functionName,
    name: a.name,
    functionVersion: a.functionVersion,
    description: a.description,
    ...(a.routingVersion ? { routing: { version: a.routingVersion, weight: a.routingWeight } } : {}),
    revisionId: a.revisionId,
    lastModified: new Date(a.lastModifiedMs),
  };
}

/** Versions and aliases of functions (client.versions). */
export class VersionsClient {
  constructor(private readonly call: UnaryCaller<Stubs>) {}

  /** Snapshots $LATEST as the next version; the newest version when $LATEST has not changed since. `codeSha256` guards against publishing other code. */
  async publish(name: string, options: { description?: string; codeSha256?: string } = {}): Promise<FunctionInfo> {
    return functionRecordFromPb(await this.call<FunctionInfoPb>('write', 'PublishVersion', (s, md, opts, cb) => s.functions.publishVersion({ name, description: options.description ?? '', codeSha256: options.codeSha256 ?? '' }, md, opts, cb)));
  }

  /** Every published version, oldest first. */
  async list(name: string): Promise<FunctionInfo[]> {
    const res = await this.call<ListVersionsResponse>('read', 'ListVersions', (s, md, opts, cb) => s.functions.listVersions({ name }, md, opts, cb));
    return res.versions.map(functionRecordFromPb);
  }

  /** Deletes a version; ResourceConflict while an alias points at it. */
  async delete(name: string, version: string): Promise<void> {
    await this.call('write', 'DeleteVersion', (s, md, opts, cb) => s.functions.deleteVersion({ name, version }, md, opts, cb));
  }

  async createAlias(name: string, alias: string, options: { version: string; description?: string; routing?: { version: string; weight: number } }): Promise<AliasInfo> {
    const req = { functionName: name, name: alias, functionVersion: options.version, description: options.description ?? '', routingVersion: options.routing?.version ?? '', routingWeight: options.routing?.weight ?? 0 };
    return aliasFromPb(await this.call<Alias>('write', 'CreateAlias', (s, md, opts, cb) => s.functions.createAlias(req, md, opts, cb)));
  }

  /** Changes what an alias points at; `routing: null` stops splitting traffic. */
  async updateAlias(name: string, alias: string, options: { version?: string; description?: string; routing?: { version: string; weight: number } | null }): Promise<AliasInfo> {
    const req = { functionName: name, name: alias, functionVersion: options.version ?? '', description: options.description, routingVersion: options.routing?.version ?? '', routingWeight: options.routing?.weight ?? 0, clearRouting: options.routing === null };
    return aliasFromPb(await this.call<Alias>('write', 'UpdateAlias', (s, md, opts, cb) => s.functions.updateAlias(req, md, opts, cb)));
  }

  async getAlias(name: string, alias: string): Promise<AliasInfo> {
    return aliasFromPb(await this.call<Alias>('read', 'GetAlias', (s, md, opts, cb) => s.functions.getAlias({ functionName: name, name: alias }, md, opts, cb)));
  }

  async listAliases(name: string): Promise<AliasInfo[]> {
    const res = await this.call<ListAliasesResponse>('read', 'ListAliases', (s, md, opts, cb) => s.functions.listAliases({ functionName: name }, md, opts, cb));
    return res.aliases.map(aliasFromPb);
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.call('write', 'DeleteAlias', (s, md, opts, cb) => s.functions.deleteAlias({ functionName: name, name: alias }, md, opts, cb));
  }
}
