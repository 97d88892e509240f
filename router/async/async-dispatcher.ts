import { randomUUID } from 'node:crypto';
import { JetStreamApiCodes, JetStreamApiError, type Consumer, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { context, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { extractFromNatsHeaders } from '../../sdk/platform/nats-trace-context';
import { backoffMs, sleep } from '../../sdk/core/deadline';
import { StratusError, toStratusError } from '../../sdk/core/errors';
import { functionArn, type Destination, type FunctionRecord } from '../../sdk/core/function-config';
import type { Logger } from '../../sdk/platform/logger';
import { asyncConsumerName, HEADERS, STREAMS } from '../../sdk/platform/nats-layout';
import { DEFAULT_TENANT, tenantOf } from '../../sdk/core/identity';
import type { AccessControl } from '../auth/access-control';
import { findInvokeTarget, type InvokeTargets } from '../functions/invoke-target';
import { splitFunctionTarget } from '../../sdk/core/function-versions';
import type { FunctionCache } from '../functions/function-cache';
import type { Invoker } from '../invoke/invoker';
import { AdaptiveLimit } from './adaptive-limit';
import type { AsyncMetrics } from './async-metrics';
import { readEventHeaders, type AsyncEventHeaders, type AsyncQueue } from './async-queue';
import { invocationRecord, payloadFormat, type RecordCondition, type RecordInput } from './invocation-record';

/** How long a destination record may wait for JetStream to take it (leader elections take seconds). */
const DESTINATION_RETRY_MS = 30_000;
/** Events of one function a router runs at once before its adaptive limit has measured anything (it doubles while that pays). */
const INITIAL_WINDOW = 8;

/** Options for {@link AsyncDispatcher}. */
export interface AsyncDispatcherOptions {
  /** How often the router looks for functions with async consumers. */
  discoverIntervalMs: number;
  /** Long-poll length of one fetch. */
  fetchExpiresMs: number;
  /**
   * A function's worker stops after its consumer yielded nothing (and none of its events ran) for
   * this long; {@link AsyncDispatcher.watch} or discovery starts it again.
   */
  workerIdleMs: number;
  /** Most functions with a worker at once; watches past it are refused, counted and logged until some go idle. */
  maxWorkers: number;
  /** Most events of one function this router runs at once (reserved concurrency lowers it); the adaptive window moves below it. */
  maxConcurrencyPerFunction: number;
  /** Most async events this router runs at once. */
  maxConcurrency: number;
  /** The consumers' ack wait; running events signal progress three times per wait. */
  ackWaitMs: number;
  /** Delay before the first function-error retry; doubles after (Lambda: about 1 and 2 minutes). */
  retryBaseMs: number;
  /** First delay after a throttle or platform error; doubles up to throttleCapMs (Lambda: 1 s to 5 min). */
  throttleBaseMs: number;
  /** Longest delay after repeated throttles or platform errors. */
  throttleCapMs: number;
  /** Time allowed beyond the function timeout for placement and cold start. */
  invokeSlackMs: number;
  region: string;
  accountId: string;
}

/** What discovery needs to know of a consumer: its name and whether it holds events. */
export interface ConsumerSummary {
  name: string;
  /** Events not yet delivered. */
  pending: number;
  /** Events delivered and not acknowledged: running somewhere, put back with a delay, or held by a router that died. */
  ackPending: number;
}

/**
 * The function whose worker discovery should start for a consumer, or undefined. Only consumers
 * holding events count: an idle function's worker has stopped on purpose, and a function with
 * events waiting — including ones put back with a delay or left by a router that died — needs a
 * worker somewhere, so every router starts one for it (that is the no-loss guarantee for events
 * enqueued while no worker ran).
 */
export function discoveredFunction(consumer: ConsumerSummary): string | undefined {
  if (!consumer.name.startsWith('async-')) return undefined;
  if (consumer.pending <= 0 && consumer.ackPending <= 0) return undefined;
  return consumer.name.slice('async-'.length);
}

/** Whether a worker has been idle long enough to stop: nothing of it running and nothing yielded or watched for `idleMs`. */
export function workerExpired(worker: { running: number; lastActiveMs: number }, nowMs: number, idleMs: number): boolean {
  return worker.running === 0 && nowMs - worker.lastActiveMs >= idleMs;
}

/** One function's pull loop: its promise, its events running now, and when it last had something to do. */
interface Worker {
  done: Promise<void>;
  lastActiveMs: number;
  running: number;
}

/** Dependencies of the dispatcher; main.ts wires them. */
export interface AsyncDispatcherDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  queue: AsyncQueue;
  cache: FunctionCache;
  /** Resolves an event's qualifier (a version or an alias) to what it runs; without it events run $LATEST. */
  targets?: Pick<InvokeTargets, 'resolve'>;
  invoker: Invoker;
  metrics: AsyncMetrics;
  /** Checks that a function destination may be invoked on the source function's tenant's behalf. */
  access: Pick<AccessControl, 'authorize'>;
  tracer: Tracer;
  logger: Logger;
}

/**
 * Delivers asynchronous events to functions: one pull loop per function (so a backlog or a
 * failing function never holds up another), pulling only as many events as it has room to run.
 * Each event ends acknowledged only after its outcome is stored: run, retried (republished with
 * its attempt count and backoff), sent to its destination, or dead-lettered. Throttles and
 * platform errors put the event back with backoff and use up no attempt.
 *
 * How many of a function's events run at once is an {@link AdaptiveLimit} under the configured
 * cap: as many as still raise the rate they complete at, so a short function does not get an
 * instance per event in flight while a long one still gets the whole cap.
 *
 * Acks are sent without waiting for the server's confirmation (ack, not ackAck): nothing here
 * depends on the ack having landed, and a lost ack means what a failed ackAck meant before — the
 * event is redelivered after the ack wait and runs again, which at-least-once allows. The NATS
 * connection is drained on shutdown, so acks of finished events are flushed before it closes.
 */
export class AsyncDispatcher {
  private readonly workers = new Map<string, Worker>();
  private readonly fetches = new Set<{ stop(): void }>();
  private readonly slotWaiters = new Set<() => void>();
  private inflight = 0;
  private running = false;
  private discoverTimer: NodeJS.Timeout | undefined;
  /** The discovery pass in flight: one at a time, and stop waits for it. */
  private discovering: Promise<void> | undefined;
  private idle: (() => void) | undefined;
  private stopping: Promise<void> | undefined;
  /** Watches refused because `maxWorkers` functions had a worker already. */
  droppedWatches = 0;

  constructor(
    private readonly deps: AsyncDispatcherDeps,
    private readonly options: AsyncDispatcherOptions,
  ) {}

  /** Functions with a worker now. */
  get workerCount(): number {
    return this.workers.size;
  }

  /** Starts discovering function consumers and pulling their events. */
  start(): void {
    if (this.running || this.stopping) return;
    this.running = true;
    this.discoverSoon();
    this.discoverTimer = setInterval(() => this.discoverSoon(), this.options.discoverIntervalMs);
    this.discoverTimer.unref();
  }

  /** Starts pulling a function's events now (called when this router enqueues for it), or keeps its worker from going idle. */
  watch(functionName: string): void {
    if (!this.running) return;
    const held = this.workers.get(functionName);
    if (held) {
      held.lastActiveMs = Date.now();
      return;
    }
    if (this.workers.size >= this.options.maxWorkers) {
      // Discovery tries again each interval while the function has events, so nothing is lost; it waits.
      this.droppedWatches += 1;
      if (this.droppedWatches === 1 || this.droppedWatches % 1000 === 0) {
        this.deps.logger.warn('async workers at their limit; function waits until another goes idle', { fn: functionName, maxWorkers: this.options.maxWorkers, dropped: this.droppedWatches });
      }
      return;
    }
    const worker: Worker = { done: Promise.resolve(), lastActiveMs: Date.now(), running: 0 };
    worker.done = this.work(functionName, worker)
      .catch((err: unknown) => this.deps.logger.error('async worker stopped', { fn: functionName, err: toStratusError(err) }))
      .finally(() => {
        // An idle worker removed itself already, and a new one may hold the name by now.
        if (this.workers.get(functionName) === worker) this.workers.delete(functionName);
      });
    this.workers.set(functionName, worker);
  }

  /**
   * Stops pulling and waits (up to `graceMs`) for running events and the workers' loops;
   * unfinished events are redelivered later. Every call returns the same promise.
   */
  stop(graceMs: number): Promise<void> {
    this.stopping ??= this.shutdown(graceMs);
    return this.stopping;
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.running = false;
    clearInterval(this.discoverTimer);
    for (const f of this.fetches) f.stop();
    for (const w of this.slotWaiters) w();
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    const eventsDone = this.inflight > 0 ? new Promise<void>((resolve) => (this.idle = resolve)) : Promise.resolve();
    const loopsDone = Promise.all([...this.workers.values()].map((w) => w.done));
    await Promise.race([graceOver, Promise.all([eventsDone, loopsDone, this.discovering])]);
    clearTimeout(timer);
  }

  /** Runs a discovery pass unless one is still running (a slow listing must not pile up passes). */
  private discoverSoon(): void {
    if (!this.running || this.discovering) return;
    this.discovering = this.discover()
      .catch((err: unknown) => this.deps.logger.warn('async consumer discovery failed', { err: toStratusError(err) }))
      .finally(() => (this.discovering = undefined));
  }

  private async discover(): Promise<void> {
    const lister = this.deps.jsm.consumers.list(STREAMS.async);
    for await (const info of lister) {
      const fn = discoveredFunction({ name: info.config.durable_name ?? info.name, pending: info.num_pending, ackPending: info.num_ack_pending });
      if (fn !== undefined) this.watch(fn);
    }
  }

  private async work(fn: string, worker: Worker): Promise<void> {
    const consumer: Consumer = await this.deps.js.consumers.get(STREAMS.async, asyncConsumerName(fn));
    const limiter = new AdaptiveLimit({ initial: INITIAL_WINDOW, max: this.options.maxConcurrencyPerFunction });
    let lastLimit = limiter.limit;
    // Called when an event's invocation returned (throttled and deferred events are not work done).
    const ran = (): void => limiter.record(performance.now(), worker.running, this.refillAt(limiter.limit, worker.running));
    while (this.running) {
      if (workerExpired(worker, Date.now(), this.options.workerIdleMs)) {
        // Leave the map in the same turn as the decision: a watch from now on starts a new worker.
        this.workers.delete(fn);
        this.deps.logger.debug('async worker idle; stopped', { fn, idleMs: this.options.workerIdleMs });
        return;
      }
      const record = await this.deps.cache.get(fn).catch(() => undefined);
      const reserved = record?.config.reservedConcurrency;
      limiter.setMax(reserved === undefined || reserved === 0 ? this.options.maxConcurrencyPerFunction : Math.min(reserved, this.options.maxConcurrencyPerFunction));
      // Within the configured cap, as many as still raise the rate events complete at.
      const fnLimit = limiter.limit;
      if (fnLimit !== lastLimit) {
        this.deps.logger.debug('async window changed', { fn, from: lastLimit, to: fnLimit });
        lastLimit = fnLimit;
      }
      const room = Math.min(fnLimit - worker.running, this.options.maxConcurrency - this.inflight);
      if (room < this.refillAt(fnLimit, worker.running)) {
        await new Promise<void>((resolve) => this.slotWaiters.add(resolve));
        continue;
      }
      const batch = await consumer.fetch({ max_messages: room, expires: this.options.fetchExpiresMs });
      this.fetches.add(batch);
      // Stopped while the pull was being set up: end it now instead of after its long poll.
      if (!this.running) batch.stop();
      try {
        for await (const msg of batch) {
          worker.running += 1;
          this.inflight += 1;
          worker.lastActiveMs = Date.now();
          this.handle(fn, msg, ran)
            .finally(() => {
              worker.running -= 1;
              this.inflight -= 1;
              worker.lastActiveMs = Date.now();
              for (const w of [...this.slotWaiters]) {
                this.slotWaiters.delete(w);
                w();
              }
              if (this.inflight === 0) this.idle?.();
            })
            // handle stores every outcome itself; what reaches here is a bug, and the event is redelivered after the ack wait.
            .catch((err: unknown) => this.deps.logger.error('async event handling failed; it will be redelivered', { fn, seq: msg.seq, err: toStratusError(err) }));
        }
      } finally {
        this.fetches.delete(batch);
      }
    }
  }

  /**
   * How much room a function's window needs before it pulls again. While it has events running,
   * a quarter of its window: one pull request then serves many events instead of one each (a
   * pull costs a subscription and a round trip). An idle function pulls at any room.
   */
  private refillAt(fnLimit: number, local: number): number {
    return local === 0 ? 1 : Math.max(1, Math.floor(Math.min(fnLimit, this.options.maxConcurrency) / 4));
  }

  private async handle(fn: string, msg: JsMsg, ran: () => void): Promise<void> {
    const now = Date.now();
    const h = readEventHeaders(msg.headers, `${fn}-${msg.seq}`, now);
    if (h.notBeforeMs > now) {
      // A retry still waiting out its backoff: JetStream redelivers it when the delay is over.
      msg.nak(h.notBeforeMs - now);
      return;
    }
    const parent = extractFromNatsHeaders(msg.headers);
    const enqueued = trace.getSpanContext(parent);
    // A child of the enqueue (one trace from the caller to the function) and, as OpenTelemetry's
    // messaging conventions ask of a consumer, linked to it: a retry's dispatch links the same enqueue.
    await context.with(parent, () =>
      this.deps.tracer.startActiveSpan('stratus.async.dispatch', { kind: SpanKind.CONSUMER, links: enqueued ? [{ context: enqueued }] : [] }, async (span) => {
        span.setAttribute('faas.invocation_id', h.requestId);
        span.setAttribute('faas.name', fn);
        try {
          await this.run(fn, msg, h, ran);
        } catch (err) {
          // Storing the outcome failed (NATS trouble): leave the event to be redelivered.
          span.setStatus({ code: SpanStatusCode.ERROR });
          this.deps.logger.warn('async event outcome not stored; it will be redelivered', { fn, requestId: h.requestId, err: toStratusError(err) });
          msg.nak(this.throttleDelay(msg));
        } finally {
          span.end();
        }
      }),
    );
  }

  private async run(fn: string, msg: JsMsg, h: AsyncEventHeaders, ran: () => void): Promise<void> {
    const { metrics } = this.deps;
    const record = this.deps.targets && h.qualifier ? await findInvokeTarget(this.deps.targets, fn, h.qualifier) : await this.deps.cache.get(fn);
    const arn = functionArn(this.options.region, this.options.accountId, fn, h.qualifier || '$LATEST');
    // A view, not a copy: the message's bytes are not reused by the NATS client.
    const payload = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
    const base = { requestId: h.requestId, functionArn: arn, approximateInvokeCount: h.attempt, requestPayload: payload };
    if (!record) {
      await this.finish(fn, undefined, msg, { ...base, condition: 'FunctionNotFound', platformError: { errorType: 'FunctionNotFound', errorMessage: `function '${fn}' was deleted before the event ran` } });
      return;
    }
    const ageMs = Date.now() - h.enqueuedAtMs;
    metrics.eventAge(fn, ageMs);
    if (ageMs > record.config.async.maxEventAgeSeconds * 1000) {
      await this.finish(fn, record, msg, { ...base, condition: 'EventAgeExceeded', platformError: { errorType: 'EventAgeExceeded', errorMessage: `the event was ${Math.round(ageMs / 1000)} s old, past the function's maximum event age` } });
      return;
    }
    if (record.config.reservedConcurrency === 0) {
      // As in Lambda: with reserved concurrency 0, async events fail at once, without retries.
      await this.finish(fn, record, msg, { ...base, condition: 'ConcurrencyZero', platformError: { errorType: 'TooManyRequests', errorMessage: `function '${fn}' has reserved concurrency 0` } });
      return;
    }
    const progress = setInterval(() => msg.working(), Math.max(1000, this.options.ackWaitMs / 3));
    let result: Awaited<ReturnType<Invoker['invoke']>>;
    try {
      result = await this.deps.invoker.invoke({
        requestId: h.requestId,
        record,
        payload,
        deadlineMs: Date.now() + record.config.timeoutSeconds * 1000 + this.options.invokeSlackMs,
        tailLogs: false,
        clientContext: '',
        invokedFunctionArn: arn,
        depth: h.depth,
        origin: { ...h.origin, acceptedAtMs: h.enqueuedAtMs, attempt: h.attempt },
      });
    } catch (err) {
      if (err instanceof StratusError && err.code === 'RecursiveInvocation') {
        // As Lambda's loop detection: the event is not run and goes to its failure destination or the dead letters, with the reason.
        metrics.count(fn, 'recursionStopped');
        this.deps.logger.warn('recursive loop stopped', { fn, requestId: h.requestId, depth: h.depth });
        await this.finish(fn, record, msg, { ...base, condition: 'RecursiveInvocation', platformError: { errorType: 'RecursiveInvocation', errorMessage: err.message } });
        return;
      }
      // Throttled or the platform failed (agent lost, no capacity): try again later, no attempt used.
      metrics.count(fn, 'throttled');
      this.deps.logger.debug('async event put back', { fn, requestId: h.requestId, err: toStratusError(err) });
      msg.nak(this.throttleDelay(msg));
      return;
    } finally {
      clearInterval(progress);
    }
    ran();
    const outcome = { ...base, approximateInvokeCount: h.attempt + 1, executedVersion: record.version, responsePayload: result.payload };
    if (!result.functionFailed) {
      metrics.count(fn, 'succeeded');
      const dest = record.config.async.onSuccess;
      if (dest) {
        await this.deliver(fn, dest, invocationRecord({ ...outcome, condition: 'Success' }), msg).catch((err: unknown) => {
          metrics.count(fn, 'destinationFailures');
          this.deps.logger.warn('on-success destination failed', { fn, requestId: h.requestId, err: toStratusError(err) });
        });
      }
      msg.ack();
      return;
    }
    if (h.attempt < record.config.async.maxRetryAttempts) {
      await this.deps.queue.enqueue({
        functionName: fn,
        qualifier: h.qualifier,
        payload: msg.data,
        requestId: h.requestId,
        enqueuedAtMs: h.enqueuedAtMs,
        attempt: h.attempt + 1,
        notBeforeMs: Date.now() + this.options.retryBaseMs * 2 ** h.attempt,
        depth: h.depth,
        origin: h.origin,
      });
      metrics.count(fn, 'retried');
      msg.ack();
      return;
    }
    await this.finish(fn, record, msg, { ...outcome, condition: 'RetriesExhausted', functionError: 'Unhandled' });
  }

  /** Sends a failed event's record to the on-failure destination, or else the dead-letter subject, then acknowledges it. */
  private async finish(fn: string, record: FunctionRecord | undefined, msg: JsMsg, input: RecordInput & { condition: RecordCondition }): Promise<void> {
    const rec = invocationRecord(input);
    const dest = record?.config.async.onFailure;
    let delivered = false;
    if (dest) {
      delivered = await this.deliver(fn, dest, rec, msg).then(
        () => true,
        (err: unknown) => {
          this.deps.metrics.count(fn, 'destinationFailures');
          this.deps.logger.warn('on-failure destination failed; dead-lettering instead', { fn, err: toStratusError(err) });
          return false;
        },
      );
    }
    if (!delivered) {
      await this.deps.queue.deadLetter(fn, Buffer.from(JSON.stringify(rec)), input.requestId, input.condition, payloadFormat(input.requestPayload));
      this.deps.metrics.count(fn, 'deadLettered');
    }
    msg.ack();
  }

  /**
   * Delivers a record, retrying for up to DESTINATION_RETRY_MS while JetStream cannot take it (a
   * NATS server lost or cut off means seconds of stream leader elections): the function has run,
   * so dropping its record or running it again are both worse than waiting. The event's ack
   * deadline is pushed out meanwhile. A destination that cannot exist fails at once.
   */
  private async deliver(fn: string, dest: Destination, rec: Record<string, unknown>, msg: JsMsg): Promise<void> {
    const until = Date.now() + DESTINATION_RETRY_MS;
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.deliverOnce(fn, dest, rec, Math.max(1, Number(msg.headers?.get(HEADERS.chainDepth)) || 1));
        return;
      } catch (err) {
        if (Date.now() >= until || (await this.undeliverable(dest, err))) throw err;
        msg.working();
        await sleep(100 + backoffMs(attempt, 250, 2000));
      }
    }
  }

  /** Whether waiting cannot help: no such destination function, or no stream captures the subject. */
  private async undeliverable(dest: Destination, err: unknown): Promise<boolean> {
    if (err instanceof StratusError && (err.code === 'FunctionNotFound' || err.code === 'AccessDenied')) return true;
    if (dest.kind !== 'subject') return false;
    // If even this question gets no answer, JetStream is briefly unavailable: worth waiting.
    return this.deps.jsm.streams.find(dest.target).then(
      () => false,
      (e: unknown) => e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound,
    );
  }

  private async deliverOnce(fn: string, dest: Destination, rec: Record<string, unknown>, depth: number): Promise<void> {
    const body = Buffer.from(JSON.stringify(rec));
    if (dest.kind === 'subject') {
      // Through JetStream, so the record is stored somewhere before the event is acknowledged.
      await this.deps.js.publish(dest.target, body);
      return;
    }
    const { name, qualifier } = splitFunctionTarget(dest.target);
    const target = await this.deps.cache.get(name);
    if (!target) throw new StratusError('FunctionNotFound', `destination function '${name}' of '${fn}' does not exist`);
    const source = await this.deps.cache.get(fn);
    // A destination invokes on its function's tenant's behalf: across tenants the target's policy must allow it.
    await this.deps.access.authorize({ kind: 'source', source: 'destination', name: fn, tenant: source ? tenantOf(source) : DEFAULT_TENANT, depth }, 'function:invoke', { kind: 'function', name, tenant: tenantOf(target) });
    await this.deps.queue.enqueue({ functionName: name, qualifier, payload: body, requestId: randomUUID(), enqueuedAtMs: Date.now(), attempt: 0, depth: depth + 1, origin: { trigger: 'destination', source: fn } });
    this.watch(name);
  }

  private throttleDelay(msg: JsMsg): number {
    const exp = Math.min(this.options.throttleCapMs, this.options.throttleBaseMs * 2 ** Math.max(0, msg.info.deliveryCount - 1));
    return Math.round(exp * (0.5 + Math.random() / 2));
  }
}
