/**
 * Event source mappings as the API, the CLI and the router speak of them: what a mapping reads,
 * how it batches, orders and retries, with every default and range resolved in one place
 * (Lambda's defaults, reference: async-and-event-sources.md §4.1).
 */
import { StratusError } from './errors';
import { validateFunctionName, type Destination } from './function-config';
import { LIMITS } from './limits';

/** What kind of thing a mapping reads. */
export type MappingSourceKind = 'stream' | 'table' | 'bucket';

/** What a mapping reads: a stream (optionally a subject filter), a table (optionally a key filter) or a bucket. */
export interface MappingSource {
  kind: MappingSourceKind;
  name: string;
  /** Stream: subject filter. Table: key filter. Bucket: unused. Empty: everything. */
  filter: string;
}

/** Where a new mapping starts reading. */
export type StartingPosition = 'LATEST' | 'TRIM_HORIZON' | 'AT_TIMESTAMP';

/** Where a record's ordering key comes from; records with one key are processed in order. */
export type OrderingKey = { kind: 'none' } | { kind: 'header'; name: string } | { kind: 'json'; path: string } | { kind: 'subject' };

/** A mapping's settings, defaults applied. */
export interface MappingSettings {
  /** 1-10000; default 100. */
  batchSize: number;
  /** 0-300000 ms; default 0: a batch goes as soon as records are there and a slot is free. */
  maximumBatchingWindowMs: number;
  /** 1 KB-6 MB of batch event; default 6 MB (the synchronous payload limit). */
  maximumBatchBytes: number;
  /** Streams: default none (unordered). Tables and buckets: always the item key / object name. */
  orderingKey: OrderingKey;
  /** Batches in flight at once, 1-100; default 1. Two batches in flight never share a key. */
  parallelizationFactor: number;
  /** Cap on concurrent invocations, 1-1000; undefined: no cap beyond the parallelization factor. */
  maximumConcurrency: number | undefined;
  /** Retries after a function error, -1 (until records expire) to 10000; default -1, as Lambda. */
  maximumRetryAttempts: number;
  /** -1 (never) or 60-604800 s; default -1, as Lambda. */
  maximumRecordAgeSeconds: number;
  /** On a function error split the batch in two and retry each half; splitting uses no retry. Default false. */
  bisectBatchOnFunctionError: boolean;
  /** Lambda's FunctionResponseTypes ["ReportBatchItemFailures"]. Default false. */
  reportBatchItemFailures: boolean;
  /** Undefined: the function's dead letters (stratus dlq ls). */
  onFailure: Destination | undefined;
  /** Put the failed records into the on-failure record too (default false: pointers only, as Lambda). */
  includeRecordsInFailures: boolean;
  /** Default true. */
  enabled: boolean;
}

/** Settings as a create or an update gives them; on update, `onFailure: null` clears the destination. */
export type MappingSettingsPatch = Partial<Omit<MappingSettings, 'onFailure'>> & { onFailure?: Destination | null };

/** A mapping as the registry stores it. */
export interface MappingRecord {
  /** A UUID. */
  id: string;
  functionName: string;
  source: MappingSource;
  startingPosition: StartingPosition;
  /** With AT_TIMESTAMP: epoch ms. */
  startingPositionTimestampMs: number;
  settings: MappingSettings;
  createdMs: number;
  lastModifiedMs: number;
}

/** What a caller gives to create a mapping. */
export interface CreateMappingInput {
  functionName: string;
  source: MappingSource;
  startingPosition?: StartingPosition;
  startingPositionTimestampMs?: number;
  settings?: MappingSettingsPatch;
}

/** Lambda's defaults for a stream mapping. */
export const DEFAULT_MAPPING_SETTINGS: MappingSettings = {
  batchSize: 100,
  maximumBatchingWindowMs: 0,
  maximumBatchBytes: LIMITS.maxSyncPayloadBytes,
  orderingKey: { kind: 'none' },
  parallelizationFactor: 1,
  maximumConcurrency: undefined,
  maximumRetryAttempts: -1,
  maximumRecordAgeSeconds: -1,
  bisectBatchOnFunctionError: false,
  reportBatchItemFailures: false,
  onFailure: undefined,
  includeRecordsInFailures: false,
  enabled: true,
};

const STORE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const STREAM_NAME = /^[A-Za-z0-9_-]{1,255}$/;
const SUBJECT = /^[^\s.*>]+(\.[^\s.*>]+)*$/;
const KV_KEY = /^[-/_=.a-zA-Z0-9]+$/;
const HEADER_NAME = /^[!-9;-~]+$/;

function invalid(message: string): StratusError {
  return new StratusError('InvalidRequest', message);
}

function range(what: string, value: number, min: number, max: number, unit: string): number {
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(`invalid ${what} ${value}: use a whole number from ${min} to ${max} ${unit}`);
  return value;
}

/** Validates a table or bucket name: 1-64 letters, digits, '-' or '_', not starting with "stratus" (Stratus' own buckets). */
export function validateStoreName(what: 'table' | 'bucket', name: string): string {
  if (!STORE_NAME.test(name)) throw invalid(`invalid ${what} name '${name}': use 1-64 letters, digits, '-' or '_'`);
  if (name.toLowerCase().startsWith('stratus')) throw invalid(`${what} name '${name}' is reserved: names starting with "stratus" belong to the platform; pick another`);
  return name;
}

/** Validates a table item key (a NATS KV key). */
export function validateItemKey(key: string): string {
  if (!KV_KEY.test(key) || key.startsWith('.') || key.endsWith('.') || key.includes('..')) {
    throw invalid(`invalid key '${key}': use letters, digits and - / _ = . (dots separate tokens, never at either end)`);
  }
  return key;
}

/** Validates a subject filter (wildcards allowed: * for a token, > for the rest). */
export function validateSubjectFilter(what: string, filter: string): string {
  const tokens = filter.split('.');
  const ok = tokens.every((t, i) => t.length > 0 && !/\s/.test(t) && (t === '*' || t === '>' || !/[*>]/.test(t)) && (t !== '>' || i === tokens.length - 1));
  if (!ok) throw invalid(`invalid ${what} '${filter}': dot-separated tokens, '*' for one token, '>' only last (e.g. orders.*.created)`);
  return filter;
}

function validateStreamName(name: string): string {
  if (!STREAM_NAME.test(name)) throw invalid(`invalid stream name '${name}': a JetStream stream name has letters, digits, '-' or '_'`);
  if (/^(STRATUS_|KV_stratus|OBJ_stratus)/i.test(name)) throw invalid(`stream '${name}' belongs to Stratus itself and cannot feed a mapping: pick one of your streams`);
  return name;
}

/** Validates what a mapping reads. */
export function validateMappingSource(source: MappingSource): MappingSource {
  const filter = source.filter.trim();
  switch (source.kind) {
    case 'stream':
      return { kind: 'stream', name: validateStreamName(source.name), filter: filter ? validateSubjectFilter('subject filter', filter) : '' };
    case 'table':
      return { kind: 'table', name: validateStoreName('table', source.name), filter: filter ? validateSubjectFilter('key filter', filter) : '' };
    case 'bucket':
      if (filter) throw invalid('a bucket mapping takes no filter: every object change of the bucket triggers it');
      return { kind: 'bucket', name: validateStoreName('bucket', source.name), filter: '' };
    default: {
      const unknown: never = source.kind;
      throw invalid(`unknown source kind '${String(unknown)}': use stream, table or bucket`);
    }
  }
}

function validateOrderingKey(key: OrderingKey, sourceKind: MappingSourceKind): OrderingKey {
  if (sourceKind !== 'stream') {
    if (key.kind !== 'none') throw invalid(`a ${sourceKind} mapping is always ordered by ${sourceKind === 'table' ? 'item key' : 'object name'}: leave the ordering key unset`);
    return key;
  }
  switch (key.kind) {
    case 'none':
    case 'subject':
      return { kind: key.kind };
    case 'header':
      if (!HEADER_NAME.test(key.name)) throw invalid(`invalid ordering header '${key.name}': give a NATS header name such as Order-Key`);
      return { kind: 'header', name: key.name };
    case 'json':
      if (!key.path || key.path.split('.').some((t) => t.length === 0)) throw invalid(`invalid ordering JSON path '${key.path}': give a dot-separated path such as order.customerId`);
      return { kind: 'json', path: key.path };
    default: {
      const unknown: never = key;
      throw invalid(`unknown ordering key ${JSON.stringify(unknown)}: use none, header, json or subject`);
    }
  }
}

function validateDestination(d: Destination): Destination {
  if (d.kind === 'function') return { kind: 'function', target: validateFunctionName(d.target) };
  if (d.kind === 'subject') {
    if (!SUBJECT.test(d.target)) throw invalid(`on-failure destination: '${d.target}' is not a NATS subject (dot-separated tokens, no wildcards)`);
    return { kind: 'subject', target: d.target };
  }
  throw invalid(`on-failure destination kind '${String(d.kind)}': use subject or function`);
}

/** Applies a patch to `base` (defaults on create, the stored settings on update) and validates every field; the one place that does. */
export function resolveMappingSettings(patch: MappingSettingsPatch, sourceKind: MappingSourceKind, base: MappingSettings = DEFAULT_MAPPING_SETTINGS): MappingSettings {
  const pick = <K extends keyof MappingSettings>(k: K): MappingSettings[K] => (patch[k as keyof MappingSettingsPatch] ?? base[k]) as MappingSettings[K];
  const age = pick('maximumRecordAgeSeconds');
  if (age !== -1) range('maximum record age', age, 60, 604_800, 'seconds (or -1 for no limit)');
  const concurrency = 'maximumConcurrency' in patch ? patch.maximumConcurrency : base.maximumConcurrency;
  const onFailure = patch.onFailure === null ? undefined : patch.onFailure === undefined ? base.onFailure : validateDestination(patch.onFailure);
  return {
    batchSize: range('batch size', pick('batchSize'), 1, 10_000, 'records'),
    maximumBatchingWindowMs: range('maximum batching window', pick('maximumBatchingWindowMs'), 0, 300_000, 'ms'),
    maximumBatchBytes: range('maximum batch size', pick('maximumBatchBytes'), 1024, LIMITS.maxSyncPayloadBytes, 'bytes'),
    orderingKey: validateOrderingKey(pick('orderingKey'), sourceKind),
    parallelizationFactor: range('parallelization factor', pick('parallelizationFactor'), 1, 100, 'batches'),
    maximumConcurrency: concurrency === undefined ? undefined : range('maximum concurrency', concurrency, 1, 1000, 'invocations'),
    maximumRetryAttempts: range('maximum retry attempts', pick('maximumRetryAttempts'), -1, 10_000, 'retries (-1: until the records expire)'),
    maximumRecordAgeSeconds: age,
    bisectBatchOnFunctionError: pick('bisectBatchOnFunctionError'),
    reportBatchItemFailures: pick('reportBatchItemFailures'),
    onFailure,
    includeRecordsInFailures: pick('includeRecordsInFailures'),
    enabled: pick('enabled'),
  };
}

/** Validates a create request and applies defaults; returns everything but the id and times. */
export function resolveCreateMapping(input: CreateMappingInput): Omit<MappingRecord, 'id' | 'createdMs' | 'lastModifiedMs'> {
  const source = validateMappingSource(input.source);
  const startingPosition = input.startingPosition ?? 'LATEST';
  const ts = input.startingPositionTimestampMs ?? 0;
  if (startingPosition === 'AT_TIMESTAMP' && !(Number.isFinite(ts) && ts > 0)) throw invalid('AT_TIMESTAMP needs a starting timestamp: pass --starting-timestamp <ISO time or epoch ms>');
  if (startingPosition !== 'AT_TIMESTAMP' && ts !== 0) throw invalid('a starting timestamp only goes with the AT_TIMESTAMP starting position');
  return {
    functionName: validateFunctionName(input.functionName),
    source,
    startingPosition,
    startingPositionTimestampMs: ts,
    settings: resolveMappingSettings(input.settings ?? {}, source.kind),
  };
}

/** The stream a source lives in, and the subject filter a mapping uses on it. */
export function sourceStream(source: MappingSource): { stream: string; subjectFilter: string } {
  switch (source.kind) {
    case 'stream':
      return { stream: source.name, subjectFilter: source.filter };
    case 'table':
      return { stream: `KV_${source.name}`, subjectFilter: `$KV.${source.name}.${source.filter || '>'}` };
    case 'bucket':
      return { stream: `OBJ_${source.name}`, subjectFilter: `$O.${source.name}.M.>` };
    default: {
      const unknown: never = source.kind;
      return unknown;
    }
  }
}

/** The ARN-shaped identifier of a source, handed to functions as eventSourceArn. */
export function eventSourceArn(region: string, account: string, source: MappingSource): string {
  switch (source.kind) {
    case 'stream':
      return `arn:stratus:jetstream:${region}:${account}:stream/${source.name}`;
    case 'table':
      return `arn:stratus:table:${region}:${account}:table/${source.name}`;
    case 'bucket':
      return `arn:stratus:bucket:${region}:${account}:bucket/${source.name}`;
    default: {
      const unknown: never = source.kind;
      return unknown;
    }
  }
}

/** How a source reads for humans: "stream ORDERS (orders.*)". */
export function describeSource(source: MappingSource): string {
  return `${source.kind} ${source.name}${source.filter ? ` (${source.filter})` : ''}`;
}
