import type { Command } from 'commander';
import type { MappingInfo } from '../../client/mapping-client';
import { StratusError } from '../../core/errors';
import type { Destination } from '../../core/function-config';
import { describeSource, type MappingSettingsPatch, type MappingSource, type OrderingKey } from '../../core/mapping-config';
import { parseStartingPosition } from '../../core/wire/mapping-codec';
import type { CliContext } from '../context';

type Run = (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>;

/** Settings flags shared by create and update (commander's camelCase names). */
export interface SettingsFlags {
  batchSize?: string;
  window?: string;
  maxBatchBytes?: string;
  keyHeader?: string;
  keyJson?: string;
  keySubject?: boolean;
  unordered?: boolean;
  parallelization?: string;
  maxConcurrency?: string;
  maxRetries?: string;
  maxRecordAge?: string;
  bisect?: boolean;
  reportBatchItemFailures?: boolean;
  onFailure?: string | false;
  includeRecords?: boolean;
  enabled?: boolean;
}

function integer(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new StratusError('InvalidRequest', `${flag} ${value}: give a whole number`);
  return n;
}

/** `250`, `250ms`, `2s` or `1m` → milliseconds. */
export function parseDurationMs(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!m) throw new StratusError('InvalidRequest', `${flag} ${value}: give a duration such as 500ms, 2s or 1m (a bare number is ms)`);
  const n = Number(m[1]);
  return Math.round(m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n);
}

/** `subject:orders.failed` or `function:audit` → a destination. */
export function parseDestination(value: string): Destination {
  const at = value.indexOf(':');
  const kind = value.slice(0, at);
  if (at < 0 || (kind !== 'subject' && kind !== 'function')) throw new StratusError('InvalidRequest', `--on-failure ${value}: write subject:<subject> or function:<name>`);
  return { kind, target: value.slice(at + 1) };
}

/** An ISO time or epoch milliseconds → epoch ms. */
export function parseTimestamp(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(n) || n <= 0) throw new StratusError('InvalidRequest', `--starting-timestamp ${value}: give an ISO time (2025-01-01T00:00:00Z) or epoch milliseconds`);
  return n;
}

/** The ordering key the flags name, or undefined when none does. */
export function orderingKeyFromFlags(f: SettingsFlags): OrderingKey | undefined {
  const given = [f.keyHeader !== undefined, f.keyJson !== undefined, f.keySubject === true, f.unordered === true].filter(Boolean).length;
  if (given > 1) throw new StratusError('InvalidRequest', 'give one of --key-header, --key-json, --key-subject or --unordered');
  if (f.keyHeader !== undefined) return { kind: 'header', name: f.keyHeader };
  if (f.keyJson !== undefined) return { kind: 'json', path: f.keyJson };
  if (f.keySubject) return { kind: 'subject' };
  if (f.unordered) return { kind: 'none' };
  return undefined;
}

/** Turns settings flags into a patch holding only what was given. */
export function settingsFromFlags(f: SettingsFlags): MappingSettingsPatch {
  const patch: MappingSettingsPatch = {};
  const set = <K extends keyof MappingSettingsPatch>(k: K, v: MappingSettingsPatch[K] | undefined): void => {
    if (v !== undefined) patch[k] = v;
  };
  set('batchSize', integer('--batch-size', f.batchSize));
  set('maximumBatchingWindowMs', parseDurationMs('--window', f.window));
  set('maximumBatchBytes', integer('--max-batch-bytes', f.maxBatchBytes));
  set('orderingKey', orderingKeyFromFlags(f));
  set('parallelizationFactor', integer('--parallelization', f.parallelization));
  if (f.maxConcurrency !== undefined) patch.maximumConcurrency = f.maxConcurrency === '0' ? undefined : integer('--max-concurrency', f.maxConcurrency);
  set('maximumRetryAttempts', integer('--max-retries', f.maxRetries));
  set('maximumRecordAgeSeconds', integer('--max-record-age', f.maxRecordAge));
  set('bisectBatchOnFunctionError', f.bisect);
  set('reportBatchItemFailures', f.reportBatchItemFailures);
  if (f.onFailure === false) patch.onFailure = null;
  else if (f.onFailure !== undefined) patch.onFailure = parseDestination(f.onFailure);
  set('includeRecordsInFailures', f.includeRecords);
  set('enabled', f.enabled);
  return patch;
}

/** The source the flags name. */
export function sourceFromFlags(f: { stream?: string; subject?: string; table?: string; keys?: string; bucket?: string }): MappingSource {
  const given = [f.stream, f.table, f.bucket].filter((v) => v !== undefined).length;
  if (given !== 1) throw new StratusError('InvalidRequest', 'give exactly one source: --stream <name> [--subject <filter>], --table <name> [--keys <filter>] or --bucket <name>');
  if (f.stream !== undefined) return { kind: 'stream', name: f.stream, filter: f.subject ?? '' };
  if (f.table !== undefined) return { kind: 'table', name: f.table, filter: f.keys ?? '' };
  return { kind: 'bucket', name: f.bucket as string, filter: '' };
}

function orderingText(k: OrderingKey): string {
  switch (k.kind) {
    case 'none':
      return 'none';
    case 'header':
      return `header ${k.name}`;
    case 'json':
      return `json ${k.path}`;
    case 'subject':
      return 'subject';
    default: {
      const unknown: never = k;
      return unknown;
    }
  }
}

function toJson(m: MappingInfo): Record<string, unknown> {
  return { ...m, created: new Date(m.createdMs).toISOString(), lastModified: new Date(m.lastModifiedMs).toISOString() };
}

function details(m: MappingInfo): Array<[string, string]> {
  const s = m.settings;
  return [
    ['ID', m.id],
    ['FUNCTION', m.functionName],
    ['SOURCE', describeSource(m.source)],
    ['STREAM', `${m.stream}${m.subjectFilter ? ` (${m.subjectFilter})` : ''}`],
    ['STATE', m.state],
    ['POLLED BY', m.holder || '-'],
    ['LAST RESULT', m.lastProcessingResult || '-'],
    ['CHECKPOINT', `${m.checkpointSequence} (${m.pendingRecords} pending)`],
    ['STARTING POSITION', m.startingPosition + (m.startingPosition === 'AT_TIMESTAMP' ? ` ${new Date(m.startingPositionTimestampMs).toISOString()}` : '')],
    ['BATCH', `${s.batchSize} records, window ${s.maximumBatchingWindowMs} ms, ${s.maximumBatchBytes} bytes`],
    ['ORDERING KEY', m.source.kind === 'stream' ? orderingText(s.orderingKey) : m.source.kind === 'table' ? 'item key' : 'object name'],
    ['PARALLELIZATION', `${s.parallelizationFactor}${s.maximumConcurrency ? ` (max concurrency ${s.maximumConcurrency})` : ''}`],
    ['RETRIES', `${s.maximumRetryAttempts === -1 ? 'until records expire' : s.maximumRetryAttempts}; max record age ${s.maximumRecordAgeSeconds === -1 ? 'none' : `${s.maximumRecordAgeSeconds} s`}`],
    ['BISECT', String(s.bisectBatchOnFunctionError)],
    ['BATCH ITEM FAILURES', String(s.reportBatchItemFailures)],
    ['ON FAILURE', s.onFailure ? `${s.onFailure.kind}:${s.onFailure.target}${s.includeRecordsInFailures ? ' (with records)' : ''}` : 'dead letters (stratus dlq ls)'],
    ['CONSUMER', m.consumer || '-'],
  ];
}

function addSettingsOptions(cmd: Command): Command {
  return cmd
    .option('--batch-size <n>', 'records per batch, 1-10000 (default 100)')
    .option('--window <duration>', 'how long to wait for a fuller batch: 500ms, 2s (default 0)')
    .option('--max-batch-bytes <n>', 'most bytes of one batch event (default 6 MB)')
    .option('--key-header <name>', 'streams: order records by this header')
    .option('--key-json <path>', 'streams: order records by this JSON path of the data (order.customerId)')
    .option('--key-subject', 'streams: order records by subject')
    .option('--unordered', 'streams: no ordering key (the default)')
    .option('--parallelization <n>', 'batches in flight at once, 1-100; keys stay in order (default 1)')
    .option('--max-concurrency <n>', 'cap on concurrent invocations, 1-1000 (0: no cap)')
    .option('--max-retries <n>', 'retries after a function error, -1 to 10000 (default -1: until records expire)')
    .option('--max-record-age <seconds>', 'give records older than this up, 60-604800 or -1 (default -1)')
    .option('--bisect', 'split a failing batch in two and retry each half')
    .option('--no-bisect', 'retry a failing batch whole')
    .option('--report-batch-item-failures', 'read {"batchItemFailures":[{"itemIdentifier":"<sequence>"}]} from the response')
    .option('--no-report-batch-item-failures', 'ignore the response')
    .option('--on-failure <destination>', 'where records given up on go: subject:<subject> or function:<name> (default: dead letters)')
    .option('--no-on-failure', 'send records given up on to the dead letters')
    .option('--include-records', 'put the records into the failure record (default: pointers only)')
    .option('--no-include-records', 'pointers only');
}

/** `stratus mappings create|ls|get|update|rm`: event source mappings. */
export function registerMappingCommands(program: Command, run: Run): void {
  const mappings = program.command('mappings').description('feed a function batches from a JetStream stream, a table or a bucket, in order per key');
  addSettingsOptions(
    mappings
      .command('create <function>')
      .description('create a mapping (the function and the source must exist)')
      .option('--stream <name>', 'read a JetStream stream')
      .option('--subject <filter>', 'with --stream: only subjects matching this filter')
      .option('--table <name>', "read a table's changes")
      .option('--keys <filter>', 'with --table: only keys matching this filter (users.*)')
      .option('--bucket <name>', "read a bucket's object changes")
      .option('--starting-position <position>', 'latest, trim-horizon (oldest) or at-timestamp (default latest)')
      .option('--starting-timestamp <time>', 'with at-timestamp: ISO time or epoch ms')
      .option('--disabled', 'create it disabled'),
  ).action((fn: string, flags: SettingsFlags & { stream?: string; subject?: string; table?: string; keys?: string; bucket?: string; startingPosition?: string; startingTimestamp?: string; disabled?: boolean }) =>
    run(async ({ out, client }) => {
      const settings = settingsFromFlags(flags);
      if (flags.disabled) settings.enabled = false;
      const m = await (await client()).mappings.create(fn, sourceFromFlags(flags), {
        startingPosition: flags.startingPosition === undefined ? undefined : parseStartingPosition(flags.startingPosition),
        startingTimestamp: flags.startingTimestamp === undefined ? undefined : parseTimestamp(flags.startingTimestamp),
        settings,
      });
      if (out.json) return out.printJson(toJson(m));
      out.line(`${describeSource(m.source)} → ${m.functionName} (mapping ${m.id}, ${m.state.toLowerCase()})`);
    }),
  );
  mappings
    .command('ls [function]')
    .description("list mappings (all, or one function's)")
    .action((fn: string | undefined) =>
      run(async ({ out, client }) => {
        const all = await (await client()).mappings.list(fn ?? '');
        if (out.json) return out.printJson(all.map(toJson));
        if (all.length === 0) return out.note('no mappings: create one with stratus mappings create <function> --stream <name>');
        out.printTable(
          ['ID', 'FUNCTION', 'SOURCE', 'STATE', 'BATCH', 'POLLED BY', 'LAST RESULT'],
          all.map((m) => [m.id, m.functionName, describeSource(m.source), m.state, m.settings.batchSize, m.holder || '-', (m.lastProcessingResult || '-').slice(0, 50)]),
        );
      }),
    );
  mappings
    .command('get <id>')
    .description('show a mapping with its progress')
    .action((id: string) =>
      run(async ({ out, client }) => {
        const m = await (await client()).mappings.get(id);
        if (out.json) return out.printJson(toJson(m));
        out.printTable(['FIELD', 'VALUE'], details(m));
      }),
    );
  addSettingsOptions(
    mappings
      .command('update <id>')
      .description('change settings; what is not given stays')
      .option('--enable', 'start polling again from the checkpoint')
      .option('--disable', 'stop polling (the checkpoint is kept)'),
  ).action((id: string, flags: SettingsFlags & { enable?: boolean; disable?: boolean }) =>
    run(async ({ out, client }) => {
      if (flags.enable && flags.disable) throw new StratusError('InvalidRequest', 'give --enable or --disable, not both');
      const settings = settingsFromFlags(flags);
      if (flags.enable) settings.enabled = true;
      if (flags.disable) settings.enabled = false;
      if (Object.keys(settings).length === 0) throw new StratusError('InvalidRequest', 'nothing to change: give a setting such as --batch-size 50 or --disable');
      const m = await (await client()).mappings.update(id, settings);
      if (out.json) return out.printJson(toJson(m));
      out.line(`updated mapping ${m.id} (${m.state.toLowerCase()})`);
    }),
  );
  mappings
    .command('rm <id>')
    .description('delete a mapping and its checkpoint')
    .action((id: string) =>
      run(async ({ out, client }) => {
        await (await client()).mappings.delete(id);
        if (out.json) return out.printJson({ deleted: id });
        out.line(`deleted mapping ${id}`);
      }),
    );
}
