import type { MappingServiceClient, ListMappingsResponse, Mapping as MappingPb } from '../../proto/gen/stratus/v1/mappings';
import { resolveCreateMapping, type MappingSettingsPatch, type MappingSource, type StartingPosition } from '../core/mapping-config';
import { mappingFromPb, mappingSettingsToPb, mappingSourceToPb, startingPositionToPb, type MappingInfo } from '../core/wire/mapping-codec';
import type { UnaryCaller } from './router-transport';

/** The mapping types SDK users see, re-exported from the shared core. */
export type { MappingInfo } from '../core/wire/mapping-codec';
export type { MappingSettings, MappingSettingsPatch, MappingSource, OrderingKey, StartingPosition } from '../core/mapping-config';

/** Options for creating a mapping. */
export interface CreateMappingOptions {
  /** Default LATEST. */
  startingPosition?: StartingPosition;
  /** With AT_TIMESTAMP. */
  startingTimestamp?: Date | number;
  /** Settings; anything left out gets Lambda's default. */
  settings?: MappingSettingsPatch;
}

/**
 * Event source mappings (client.mappings): a function fed in batches from a JetStream stream,
 * a table's changes or a bucket's object changes.
 */
export class MappingClient {
  constructor(private readonly call: UnaryCaller<{ mappings: MappingServiceClient }>) {}

  /** Creates a mapping; the function and the source must exist. */
  async create(functionName: string, source: MappingSource, options: CreateMappingOptions = {}): Promise<MappingInfo> {
    const ts = options.startingTimestamp instanceof Date ? options.startingTimestamp.getTime() : options.startingTimestamp;
    // Fails fast on a bad setting, before anything is sent.
    resolveCreateMapping({ functionName, source, startingPosition: options.startingPosition, startingPositionTimestampMs: ts, settings: options.settings });
    const request = {
      functionName,
      source: mappingSourceToPb(source),
      startingPosition: startingPositionToPb(options.startingPosition),
      startingPositionTimestampMs: ts ?? 0,
      settings: mappingSettingsToPb(options.settings ?? {}),
    };
    return mappingFromPb(await this.call<MappingPb>('write', 'CreateMapping', (s, md, opts, cb) => s.mappings.createMapping(request, md, opts, cb)));
  }

  /** Every mapping, or one function's. */
  async list(functionName = ''): Promise<MappingInfo[]> {
    const res = await this.call<ListMappingsResponse>('read', 'ListMappings', (s, md, opts, cb) => s.mappings.listMappings({ functionName }, md, opts, cb));
    return res.mappings.map(mappingFromPb);
  }

  /** One mapping with its progress: checkpoint, pending records, the router polling it. */
  async get(id: string): Promise<MappingInfo> {
    return mappingFromPb(await this.call<MappingPb>('read', 'GetMapping', (s, md, opts, cb) => s.mappings.getMapping({ id }, md, opts, cb)));
  }

  /** Changes settings (fields left out keep their value; `onFailure: null` clears the destination). */
  async update(id: string, settings: MappingSettingsPatch): Promise<MappingInfo> {
    return mappingFromPb(await this.call<MappingPb>('write', 'UpdateMapping', (s, md, opts, cb) => s.mappings.updateMapping({ id, settings: mappingSettingsToPb(settings) }, md, opts, cb)));
  }

  /** Deletes a mapping and its checkpoint. */
  async delete(id: string): Promise<void> {
    await this.call('write', 'DeleteMapping', (s, md, opts, cb) => s.mappings.deleteMapping({ id }, md, opts, cb));
  }
}
