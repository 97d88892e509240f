import { randomUUID } from 'node:crypto';
import type { JetStreamManager } from '@nats-io/jetstream';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { StratusError } from '../../sdk/core/errors';
import { natsFailure } from '../../sdk/platform/nats-errors';
import { functionArn } from '../../sdk/core/function-config';
import { eventSourceArn, resolveCreateMapping, resolveMappingSettings, sourceStream, type CreateMappingInput, type MappingRecord, type MappingSettingsPatch, type MappingSource } from '../../sdk/core/mapping-config';
import type { MappingInfo } from '../../sdk/core/wire/mapping-codec';
import type { FunctionCache } from '../functions/function-cache';
import type { Checkpoints } from './checkpoint';
import type { LeaseStore } from './lease-store';
import type { MappingRegistry } from './mapping-registry';

/** Most mappings a cluster holds: every router looks at each on every tick. */
export const MAX_MAPPINGS = 1000;

/** What the manager needs. */
export interface MappingManagerDeps {
  registry: MappingRegistry;
  checkpoints: Checkpoints;
  leases: LeaseStore;
  jsm: JetStreamManager;
  cache: Pick<FunctionCache, 'get'>;
  /** Throws ResourceNotFound unless the table / bucket exists. */
  requireTable: (name: string) => Promise<unknown>;
  requireBucket: (name: string) => Promise<unknown>;
  /** Tells this router's supervisor that mappings changed. */
  changed: () => void;
  region: string;
  accountId: string;
}

/** Creating, reading, updating and deleting mappings; polling them is the supervisor's. */
export class MappingManager {
  constructor(private readonly deps: MappingManagerDeps) {}

  /** Validates a mapping, checks its function and source exist, creates its checkpoint, then stores it. */
  async create(input: CreateMappingInput): Promise<MappingInfo> {
    const resolved = resolveCreateMapping(input);
    if (!(await this.deps.cache.get(resolved.functionName))) {
      throw new StratusError('FunctionNotFound', `function '${resolved.functionName}' does not exist: deploy it first (stratus deploy ${resolved.functionName} <folder>), then map it`);
    }
    await this.requireSource(resolved.source);
    const count = (await this.deps.registry.list()).length;
    if (count >= MAX_MAPPINGS) throw new StratusError('InvalidRequest', `the cluster has ${count} mappings, the most it holds: delete unused ones (stratus mappings rm <id>)`);
    const now = Date.now();
    const record: MappingRecord = { ...resolved, id: randomUUID(), createdMs: now, lastModifiedMs: now };
    const { stream, subjectFilter } = sourceStream(record.source);
    const startSeq = await this.deps.checkpoints.startSequence(stream, record.startingPosition, record.startingPositionTimestampMs);
    await this.deps.checkpoints.create(record.id, stream, subjectFilter, startSeq, `Stratus mapping ${record.id} of ${record.functionName}`);
    try {
      await this.deps.registry.create(record);
    } catch (err) {
      await this.deps.checkpoints.remove(record.id, stream).catch(() => undefined);
      throw err;
    }
    this.deps.changed();
    return this.info(record, false);
  }

  /** Every mapping (of one function when given), with who polls it. */
  async list(functionName = ''): Promise<MappingInfo[]> {
    const all = await this.deps.registry.list();
    const mine = all.filter((m) => !functionName || m.record.functionName === functionName);
    return Promise.all(mine.map((m) => this.info(m.record, false)));
  }

  /** One mapping with its progress. */
  async get(id: string): Promise<MappingInfo> {
    return this.info((await this.deps.registry.require(id)).record, true);
  }

  /** Applies a settings patch; the poller restarts with it. */
  async update(id: string, patch: MappingSettingsPatch): Promise<MappingInfo> {
    const stored = await this.deps.registry.update(id, (current) => ({ ...current, settings: resolveMappingSettings(patch, current.source.kind, current.settings) }));
    this.deps.changed();
    return this.info(stored.record, false);
  }

  /** Deletes a mapping and its checkpoint (the router polling it also cleans up once its poller stopped). */
  async delete(id: string): Promise<void> {
    const { record } = await this.deps.registry.require(id);
    await this.deps.registry.delete(id);
    this.deps.changed();
    await this.deps.checkpoints.remove(id, sourceStream(record.source).stream);
    await this.deps.registry.deleteProgress(id);
  }

  /** Ids of the mappings reading a table or bucket. */
  async usersOf(kind: 'table' | 'bucket', name: string): Promise<string[]> {
    return (await this.deps.registry.list()).filter((m) => m.record.source.kind === kind && m.record.source.name === name).map((m) => m.record.id);
  }

  private async requireSource(source: MappingSource): Promise<void> {
    switch (source.kind) {
      case 'table':
        await this.deps.requireTable(source.name);
        return;
      case 'bucket':
        await this.deps.requireBucket(source.name);
        return;
      case 'stream':
        await this.deps.jsm.streams.info(source.name).catch((err: unknown) => {
          if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
            throw new StratusError('ResourceNotFound', `stream '${source.name}' does not exist: create it first (any JetStream client can), then map it`);
          }
          throw natsFailure(`reading stream '${source.name}'`, err);
        });
        return;
      default: {
        const unknown: never = source.kind;
        return unknown;
      }
    }
  }

  private async info(record: MappingRecord, withProgress: boolean): Promise<MappingInfo> {
    const { stream, subjectFilter } = sourceStream(record.source);
    const [lease, progress] = await Promise.all([this.deps.leases.read(record.id).catch(() => undefined), withProgress ? this.deps.checkpoints.state(record.id, stream) : undefined]);
    return {
      ...record,
      stream,
      subjectFilter,
      eventSourceArn: eventSourceArn(this.deps.region, this.deps.accountId, record.source),
      functionArn: functionArn(this.deps.region, this.deps.accountId, record.functionName),
      state: record.settings.enabled ? 'Enabled' : 'Disabled',
      holder: lease?.holder ?? '',
      lastProcessingResult: lease?.status ?? (record.settings.enabled ? 'No router polls it yet' : 'Disabled'),
      consumer: progress?.consumer ?? '',
      checkpointSequence: progress?.checkpoint ?? 0,
      pendingRecords: progress?.pending ?? 0,
    };
  }
}
