import { randomUUID } from 'node:crypto';
import type { JsMsg } from '@nats-io/jetstream';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Link, type Tracer } from '@opentelemetry/api';
import { extractFromNatsHeaders } from '../../sdk/platform/nats-trace-context';
import { toStratusError } from '../../sdk/core/errors';
import type { Logger } from '../../sdk/platform/logger';
import type { MappingRecord } from '../../sdk/core/mapping-config';
import type { BatchInvocation, BatchInvoker } from './batch-invoker';
import { backoffDelayMs, decideAfterInvoke, splitExpired, type BackoffSettings } from './batch-policy';
import { failureRecord, type FailureCondition, type LastInvocation } from './failure-record';
import type { FailureSink } from './failure-sink';
import type { BatchGroup, RetrySpec, SchedulableRecord } from './key-scheduler';
import type { MappingMetrics } from './mapping-metrics';
import { batchEvent } from './stream-records';

/** A record a poller holds until it is done. */
export interface HeldRecord extends SchedulableRecord {
  msg: JsMsg;
  /** The record as JSON text, ready for a batch event. */
  json: string;
  timestampMs: number;
}

/** What a batch carries from one attempt to the next. */
export interface GroupMeta {
  invocations: number;
  last?: LastInvocation;
  /** Retries ran out but storing the failure record failed: give up again without invoking. */
  exhausted?: boolean;
}

/** A batch of held records. */
export type HeldGroup = BatchGroup<HeldRecord, GroupMeta>;

/** How one run of a batch ended: what replaces it, and one line for the mapping's last processing result. */
export interface RunResult {
  retry: Array<RetrySpec<HeldRecord, GroupMeta>>;
  status: string | undefined;
}

/** What a runner needs. */
export interface BatchRunnerDeps {
  invoker: BatchInvoker;
  failures: FailureSink;
  metrics: MappingMetrics;
  tracer: Tracer;
  logger: Logger;
}

/** Where a mapping's records come from and go, for failure records. */
export interface BatchRunnerOptions {
  stream: string;
  subjectFilter: string;
  functionArn: string;
  eventSourceArn: string;
  /** Largest failure record a destination takes. */
  maxFailureRecordBytes: number;
  backoff: BackoffSettings;
}

/**
 * Runs one batch of a mapping once: gives up on records past their maximum age, invokes the
 * function with the rest (a span linked to the records' traces), decides with the batch policy,
 * sends records whose retries ran out to the on-failure destination, and reports through `ack`
 * every record that is done. Returns what is to run again; never throws.
 */
export class BatchRunner {
  constructor(
    private readonly mapping: MappingRecord,
    private readonly deps: BatchRunnerDeps,
    private readonly options: BatchRunnerOptions,
  ) {}

  /** Runs `group`; `ack` acknowledges records the moment they are done. */
  async run(group: HeldGroup, ack: (records: HeldRecord[]) => void): Promise<RunResult> {
    const settings = this.mapping.settings;
    let meta: GroupMeta = group.meta ?? { invocations: 0 };
    const finished = new Set<number>();
    const done = (records: HeldRecord[]): void => {
      for (const r of records) finished.add(r.seq);
      ack(records);
    };
    try {
      const { expired, fresh } = splitExpired(group.records, settings.maximumRecordAgeSeconds, Date.now());
      if (expired.length > 0) done(await this.giveUp(expired, 'MaximumRecordAgeExceeded', meta));
      if (fresh.length > 0 && meta.exhausted) done(await this.giveUp(fresh, 'RetryAttemptsExhausted', meta));
      if (fresh.length === 0 || meta.exhausted) return { retry: [], status: undefined };
      const run = await this.invoke(fresh);
      const m = this.mapping;
      if (run.outcome.kind === 'throttled') this.deps.metrics.count(m.id, m.functionName, 'throttles');
      else if (!(run.outcome.kind === 'returned' && run.outcome.items.kind === 'success')) this.deps.metrics.count(m.id, m.functionName, 'functionErrors');
      meta = {
        invocations: meta.invocations + (run.outcome.kind === 'throttled' ? 0 : 1),
        last: { requestId: run.requestId, invocations: 0, functionError: run.functionError, response: run.response, platformError: run.platformError },
      };
      const decision = decideAfterInvoke({ records: fresh, attempts: group.attempts, throttles: group.throttles, meta }, run.outcome, settings, this.options.backoff, Date.now());
      done(decision.done);
      this.deps.metrics.count(m.id, m.functionName, 'recordsSucceeded', decision.done.length);
      if (decision.exhausted.length > 0) {
        meta.exhausted = true;
        done(await this.giveUp(decision.exhausted, 'RetryAttemptsExhausted', meta));
      }
      return { retry: decision.retry, status: run.summary };
    } catch (err) {
      // Storing a failure record failed: keep the records and try again later; nothing more is acknowledged.
      const e = toStratusError(err);
      this.deps.logger.warn('mapping could not store a failure record; retrying', { mapping: this.mapping.id, err: e });
      const left = group.records.filter((r) => !finished.has(r.seq));
      const delay = backoffDelayMs(group.throttles, this.options.backoff.throttleBaseMs, this.options.backoff.throttleCapMs);
      return { retry: [{ records: left, attempts: group.attempts, throttles: group.throttles + 1, notBeforeMs: Date.now() + delay, meta }], status: `PROBLEM: ${e.message}` };
    }
  }

  private invoke(records: HeldRecord[]): Promise<BatchInvocation> {
    const m = this.mapping;
    const links: Link[] = [];
    for (const r of records.slice(0, 128)) {
      const sc = trace.getSpanContext(extractFromNatsHeaders(r.msg.headers, ROOT_CONTEXT));
      if (sc) links.push({ context: sc });
    }
    const newest = records.reduce((t, r) => Math.max(t, r.timestampMs), 0);
    this.deps.metrics.count(m.id, m.functionName, 'batches');
    this.deps.metrics.iteratorAge(m.id, m.functionName, Date.now() - newest);
    return this.deps.tracer.startActiveSpan('stratus.mapping.batch', { kind: SpanKind.CONSUMER, links, attributes: { 'faas.name': m.functionName, 'stratus.mapping.id': m.id, 'messaging.batch.message_count': records.length } }, async (span) => {
      try {
        const run = await this.deps.invoker.invoke(m.functionName, Buffer.from(batchEvent(records.map((r) => r.json))), records.map((r) => r.seq), m.settings.reportBatchItemFailures, m);
        span.setAttribute('faas.invocation_id', run.requestId);
        if (run.summary !== 'OK') span.setStatus({ code: SpanStatusCode.ERROR, message: run.summary });
        return run;
      } finally {
        span.end();
      }
    });
  }

  /** Sends records to the on-failure destination (or dead letters); resolves once stored, with the records to acknowledge. */
  private async giveUp(records: HeldRecord[], condition: FailureCondition, meta: GroupMeta): Promise<HeldRecord[]> {
    const m = this.mapping;
    const last: LastInvocation = { ...(meta.last ?? { requestId: randomUUID() }), invocations: meta.invocations };
    const where = await this.deps.failures.deliver({
      functionName: m.functionName,
      onFailure: m.settings.onFailure,
      includeRecords: m.settings.includeRecordsInFailures,
      requestId: last.requestId,
      condition,
      build: (withRecords) =>
        failureRecord({
          condition,
          functionArn: this.options.functionArn,
          last,
          mappingId: m.id,
          stream: this.options.stream,
          subjectFilter: this.options.subjectFilter,
          eventSourceArn: this.options.eventSourceArn,
          records,
          event: withRecords ? batchEvent(records.map((r) => r.json)) : undefined,
          maxBytes: this.options.maxFailureRecordBytes,
        }),
    });
    this.deps.metrics.count(m.id, m.functionName, 'recordsFailed', records.length);
    if (where === 'deadLetter') this.deps.metrics.count(m.id, m.functionName, 'deadLettered');
    this.deps.logger.info('mapping gave records up', { mapping: m.id, condition, records: records.length, first: records[0]?.seq, to: where });
    return records;
  }
}
