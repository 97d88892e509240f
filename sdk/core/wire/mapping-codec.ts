import {
  MappingSourceKind as SourceKindPb,
  OrderingKeyKind as OrderingKeyKindPb,
  StartingPosition as StartingPositionPb,
  type Mapping as MappingPb,
  type MappingSettings as MappingSettingsPb,
  type MappingSource as MappingSourcePb,
  type OrderingKey as OrderingKeyPb,
} from '../../../proto/gen/stratus/v1/mappings';
import { StratusError } from '../errors';
import type { Destination } from '../function-config';
import type { MappingRecord, MappingSettings, MappingSettingsPatch, MappingSource, MappingSourceKind, OrderingKey, StartingPosition } from '../mapping-config';

/** A mapping as the API returns it: the stored record plus where it reads and how far it got. */
export interface MappingInfo extends MappingRecord {
  stream: string;
  subjectFilter: string;
  eventSourceArn: string;
  functionArn: string;
  state: 'Enabled' | 'Disabled';
  /** The router polling it now; empty when none does. */
  holder: string;
  lastProcessingResult: string;
  consumer: string;
  /** Every record up to this stream sequence is done. */
  checkpointSequence: number;
  /** Records not yet done (GetMapping only; 0 in lists). */
  pendingRecords: number;
}

/** Domain source kind → wire. */
export function sourceKindToPb(kind: MappingSourceKind): SourceKindPb {
  switch (kind) {
    case 'stream':
      return SourceKindPb.MAPPING_SOURCE_KIND_STREAM;
    case 'table':
      return SourceKindPb.MAPPING_SOURCE_KIND_TABLE;
    case 'bucket':
      return SourceKindPb.MAPPING_SOURCE_KIND_BUCKET;
    default: {
      const unknown: never = kind;
      return unknown;
    }
  }
}

/** Wire source kind → domain. */
export function sourceKindFromPb(kind: SourceKindPb): MappingSourceKind {
  switch (kind) {
    case SourceKindPb.MAPPING_SOURCE_KIND_STREAM:
      return 'stream';
    case SourceKindPb.MAPPING_SOURCE_KIND_TABLE:
      return 'table';
    case SourceKindPb.MAPPING_SOURCE_KIND_BUCKET:
      return 'bucket';
    case SourceKindPb.MAPPING_SOURCE_KIND_UNSPECIFIED:
      throw new StratusError('InvalidRequest', 'a mapping needs a source: a stream, a table or a bucket');
    default: {
      const unknown: never = kind;
      throw new StratusError('InvalidRequest', `unknown source kind ${String(unknown)}: use stream, table or bucket`);
    }
  }
}

/** Domain starting position → wire. */
export function startingPositionToPb(p: StartingPosition | undefined): StartingPositionPb {
  switch (p) {
    case undefined:
      return StartingPositionPb.STARTING_POSITION_UNSPECIFIED;
    case 'LATEST':
      return StartingPositionPb.STARTING_POSITION_LATEST;
    case 'TRIM_HORIZON':
      return StartingPositionPb.STARTING_POSITION_TRIM_HORIZON;
    case 'AT_TIMESTAMP':
      return StartingPositionPb.STARTING_POSITION_AT_TIMESTAMP;
    default: {
      const unknown: never = p;
      return unknown;
    }
  }
}

/** Wire starting position → domain; UNSPECIFIED becomes undefined (the server's default, LATEST). */
export function startingPositionFromPb(p: StartingPositionPb): StartingPosition | undefined {
  switch (p) {
    case StartingPositionPb.STARTING_POSITION_UNSPECIFIED:
      return undefined;
    case StartingPositionPb.STARTING_POSITION_LATEST:
      return 'LATEST';
    case StartingPositionPb.STARTING_POSITION_TRIM_HORIZON:
      return 'TRIM_HORIZON';
    case StartingPositionPb.STARTING_POSITION_AT_TIMESTAMP:
      return 'AT_TIMESTAMP';
    default: {
      const unknown: never = p;
      throw new StratusError('InvalidRequest', `unknown starting position ${String(unknown)}: use LATEST, TRIM_HORIZON or AT_TIMESTAMP`);
    }
  }
}

/** Parses a starting position as a user types it (case-insensitive; "oldest" means TRIM_HORIZON). */
export function parseStartingPosition(value: string): StartingPosition {
  const v = value.trim().toUpperCase().replace(/-/g, '_');
  if (v === 'LATEST' || v === 'TRIM_HORIZON' || v === 'AT_TIMESTAMP') return v;
  if (v === 'OLDEST') return 'TRIM_HORIZON';
  throw new StratusError('InvalidRequest', `'${value}' is not a starting position: use LATEST, TRIM_HORIZON (oldest) or AT_TIMESTAMP`);
}

function orderingKeyToPb(k: OrderingKey): OrderingKeyPb {
  switch (k.kind) {
    case 'none':
      return { kind: OrderingKeyKindPb.ORDERING_KEY_KIND_NONE, name: '' };
    case 'header':
      return { kind: OrderingKeyKindPb.ORDERING_KEY_KIND_HEADER, name: k.name };
    case 'json':
      return { kind: OrderingKeyKindPb.ORDERING_KEY_KIND_JSON, name: k.path };
    case 'subject':
      return { kind: OrderingKeyKindPb.ORDERING_KEY_KIND_SUBJECT, name: '' };
    default: {
      const unknown: never = k;
      return unknown;
    }
  }
}

function orderingKeyFromPb(k: OrderingKeyPb): OrderingKey | undefined {
  switch (k.kind) {
    case OrderingKeyKindPb.ORDERING_KEY_KIND_UNSPECIFIED:
      return undefined;
    case OrderingKeyKindPb.ORDERING_KEY_KIND_NONE:
      return { kind: 'none' };
    case OrderingKeyKindPb.ORDERING_KEY_KIND_HEADER:
      return { kind: 'header', name: k.name };
    case OrderingKeyKindPb.ORDERING_KEY_KIND_JSON:
      return { kind: 'json', path: k.name };
    case OrderingKeyKindPb.ORDERING_KEY_KIND_SUBJECT:
      return { kind: 'subject' };
    default: {
      const unknown: never = k.kind;
      throw new StratusError('InvalidRequest', `unknown ordering key kind ${String(unknown)}: use none, header, json or subject`);
    }
  }
}

/** Domain settings patch → wire; fields left undefined stay unset (maximumConcurrency: undefined given explicitly is sent as 0, "no cap"). */
export function mappingSettingsToPb(s: MappingSettingsPatch): MappingSettingsPb {
  const onFailure = s.onFailure === null ? { kind: '', target: '' } : s.onFailure ? { kind: s.onFailure.kind, target: s.onFailure.target } : undefined;
  return {
    batchSize: s.batchSize,
    maximumBatchingWindowMs: s.maximumBatchingWindowMs,
    maximumBatchBytes: s.maximumBatchBytes,
    orderingKey: s.orderingKey ? orderingKeyToPb(s.orderingKey) : undefined,
    parallelizationFactor: s.parallelizationFactor,
    maximumConcurrency: 'maximumConcurrency' in s ? (s.maximumConcurrency ?? 0) : undefined,
    maximumRetryAttempts: s.maximumRetryAttempts,
    maximumRecordAgeSeconds: s.maximumRecordAgeSeconds,
    bisectBatchOnFunctionError: s.bisectBatchOnFunctionError,
    reportBatchItemFailures: s.reportBatchItemFailures,
    onFailure,
    includeRecordsInFailures: s.includeRecordsInFailures,
    enabled: s.enabled,
  };
}

/** Wire settings → a domain patch holding only the fields that were set (an empty on-failure kind means "clear"). */
export function mappingSettingsFromPb(pb: MappingSettingsPb | undefined): MappingSettingsPatch {
  const patch: MappingSettingsPatch = {};
  if (!pb) return patch;
  if (pb.batchSize !== undefined) patch.batchSize = pb.batchSize;
  if (pb.maximumBatchingWindowMs !== undefined) patch.maximumBatchingWindowMs = pb.maximumBatchingWindowMs;
  if (pb.maximumBatchBytes !== undefined) patch.maximumBatchBytes = pb.maximumBatchBytes;
  const key = pb.orderingKey ? orderingKeyFromPb(pb.orderingKey) : undefined;
  if (key) patch.orderingKey = key;
  if (pb.parallelizationFactor !== undefined) patch.parallelizationFactor = pb.parallelizationFactor;
  if (pb.maximumConcurrency !== undefined) patch.maximumConcurrency = pb.maximumConcurrency === 0 ? undefined : pb.maximumConcurrency;
  if (pb.maximumRetryAttempts !== undefined) patch.maximumRetryAttempts = pb.maximumRetryAttempts;
  if (pb.maximumRecordAgeSeconds !== undefined) patch.maximumRecordAgeSeconds = pb.maximumRecordAgeSeconds;
  if (pb.bisectBatchOnFunctionError !== undefined) patch.bisectBatchOnFunctionError = pb.bisectBatchOnFunctionError;
  if (pb.reportBatchItemFailures !== undefined) patch.reportBatchItemFailures = pb.reportBatchItemFailures;
  if (pb.onFailure) patch.onFailure = pb.onFailure.kind ? { kind: pb.onFailure.kind as Destination['kind'], target: pb.onFailure.target } : null;
  if (pb.includeRecordsInFailures !== undefined) patch.includeRecordsInFailures = pb.includeRecordsInFailures;
  if (pb.enabled !== undefined) patch.enabled = pb.enabled;
  return patch;
}

/** Domain source → wire. */
export function mappingSourceToPb(s: MappingSource): MappingSourcePb {
  return { kind: sourceKindToPb(s.kind), name: s.name, filter: s.filter };
}

/** Wire source → domain (not yet validated). */
export function mappingSourceFromPb(pb: MappingSourcePb | undefined): MappingSource {
  if (!pb) throw new StratusError('InvalidRequest', 'a mapping needs a source: a stream, a table or a bucket');
  return { kind: sourceKindFromPb(pb.kind), name: pb.name, filter: pb.filter };
}

/** Domain mapping → wire. */
export function mappingToPb(m: MappingInfo): MappingPb {
  return {
    id: m.id,
    functionName: m.functionName,
    source: mappingSourceToPb(m.source),
    startingPosition: startingPositionToPb(m.startingPosition),
    startingPositionTimestampMs: m.startingPositionTimestampMs,
    settings: mappingSettingsToPb(m.settings),
    stream: m.stream,
    subjectFilter: m.subjectFilter,
    eventSourceArn: m.eventSourceArn,
    functionArn: m.functionArn,
    state: m.state,
    holder: m.holder,
    lastProcessingResult: m.lastProcessingResult,
    consumer: m.consumer,
    checkpointSequence: m.checkpointSequence,
    pendingRecords: m.pendingRecords,
    createdMs: m.createdMs,
    lastModifiedMs: m.lastModifiedMs,
  };
}

/** Wire mapping → domain. The server sends every setting, so missing ones are a protocol error. */
export function mappingFromPb(pb: MappingPb): MappingInfo {
  const s = mappingSettingsFromPb(pb.settings);
  const settings: MappingSettings = {
    batchSize: s.batchSize ?? 0,
    maximumBatchingWindowMs: s.maximumBatchingWindowMs ?? 0,
    maximumBatchBytes: s.maximumBatchBytes ?? 0,
    orderingKey: s.orderingKey ?? { kind: 'none' },
    parallelizationFactor: s.parallelizationFactor ?? 1,
    maximumConcurrency: s.maximumConcurrency,
    maximumRetryAttempts: s.maximumRetryAttempts ?? -1,
    maximumRecordAgeSeconds: s.maximumRecordAgeSeconds ?? -1,
    bisectBatchOnFunctionError: s.bisectBatchOnFunctionError ?? false,
    reportBatchItemFailures: s.reportBatchItemFailures ?? false,
    onFailure: s.onFailure ?? undefined,
    includeRecordsInFailures: s.includeRecordsInFailures ?? false,
    enabled: s.enabled ?? true,
  };
  return {
    id: pb.id,
    functionName: pb.functionName,
    source: mappingSourceFromPb(pb.source),
    startingPosition: startingPositionFromPb(pb.startingPosition) ?? 'LATEST',
    startingPositionTimestampMs: pb.startingPositionTimestampMs,
    settings,
    stream: pb.stream,
    subjectFilter: pb.subjectFilter,
    eventSourceArn: pb.eventSourceArn,
    functionArn: pb.functionArn,
    state: pb.state === 'Disabled' ? 'Disabled' : 'Enabled',
    holder: pb.holder,
    lastProcessingResult: pb.lastProcessingResult,
    consumer: pb.consumer,
    checkpointSequence: pb.checkpointSequence,
    pendingRecords: pb.pendingRecords,
    createdMs: pb.createdMs,
    lastModifiedMs: pb.lastModifiedMs,
  };
}
