import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { toStratusError } from '../../sdk/core/errors';
import type { Logger } from '../../sdk/platform/logger';
import type { AsyncMetrics } from '../async/async-metrics';
import type { AsyncQueue } from '../async/async-queue';
import { deadLetterUnrun } from '../async/unrun-event';
import { functionArn } from '../../sdk/core/function-config';
import { tenantOf } from '../../sdk/core/identity';
import type { AccessControl } from '../auth/access-control';
import type { FunctionCache } from '../functions/function-cache';
import type { KvMirror } from '../../sdk/platform/kv-mirror';
import { compileExpression } from './schedule-manager';
import { latestTick, nextTick, previousTick, type ScheduleExpression } from './schedule-expression';
import { tickPayload, tickRequestId } from './schedule-payload';
import type { ScheduleRecord, ScheduleRegistry } from './schedule-registry';
import { finishTick, nextActionMs, planTicks, safeToEnqueue, type InflightTick, type TickSource } from './tick-plan';

/** Options for {@link Scheduler}. */
export interface SchedulerOptions {
  /** Recorded on the ticks this router claims. */
  routerId: string;
  /** A tick evaluated within this long of its time is on time (capped at half the gap to the tick before); older ones were missed. */
  lateToleranceMs: number;
  /** An in-flight tick not finished within this long is taken over by another router. */
  takeoverAfterMs: number;
  /** An in-flight tick older than this is abandoned; must stay well inside the async queue's deduplication window. */
  abandonAfterMs: number;
  /** Longest the loop sleeps between looks at the schedules. */
  maxSleepMs: number;
  /** Shortest time between two evaluations of one schedule by this router. */
  minRecheckMs: number;
  /** Most schedules this router evaluates at once. */
  maxConcurrent: number;
  /** Most ticks one evaluation fires (bounds catch-up work). */
  maxFirePerEvaluation: number;
  region: string;
  accountId: string;
}

/** Dependencies; main.ts wires them. */
export interface SchedulerDeps {
  registry: ScheduleRegistry;
  schedules: KvMirror<ScheduleRecord>;
  queue: AsyncQueue;
  cache: FunctionCache;
  /** Starts pulling a function's async events on this router. */
  watchAsync: (functionName: string) => void;
  metrics: AsyncMetrics;
  /** Whether a schedule's tenant may still invoke its function (decided per tick from memory). */
  access: Pick<AccessControl, 'checkNow'>;
  tracer: Tracer;
  logger: Logger;
}

/**
 * Fires schedules: every router watches every schedule and, at each tick, races to claim it by
 * a compare-and-set on the schedule's state (see tick-plan.ts); the winner enqueues the tick as
 * an async invocation. A router that dies mid-tick leaves the tick in flight for another to
 * finish, so ticks fire exactly once while any router runs.
 */
export class Scheduler {
  private readonly compiled = new Map<string, { expression: string; timezone: string; expr: ScheduleExpression | undefined }>();
  private readonly evaluating = new Map<string, Promise<void>>();
  private readonly lastChecked = new Map<string, number>();
  private readonly warned = new Set<string>();
  private running = false;
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly options: SchedulerOptions,
  ) {}

  /** Starts looking at the schedules. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run().catch((err: unknown) => this.deps.logger.error('scheduler stopped', { err: toStratusError(err) }));
  }

  /** Called by the schedule mirror on every change: forgets deleted schedules and looks again at once. */
  changed(id: string, record: ScheduleRecord | undefined): void {
    if (!record) {
      this.compiled.delete(id);
      this.lastChecked.delete(id);
      this.warned.delete(id);
    } else {
      // A state written by another router is new information: it may be acted on at once.
      this.lastChecked.delete(id);
    }
    this.wake?.();
  }

  /** Stops, waiting (up to `graceMs`) for ticks being enqueued; an unfinished one is taken over by another router. */
  async stop(graceMs: number): Promise<void> {
    this.running = false;
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([this.loop, ...this.evaluating.values()]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  private expression(record: ScheduleRecord): ScheduleExpression | undefined {
    const held = this.compiled.get(record.id);
    if (held && held.expression === record.expression && held.timezone === record.timezone) return held.expr;
    const expr = compileExpression(record);
    this.compiled.set(record.id, { expression: record.expression, timezone: record.timezone, expr });
    return expr;
  }

  private dueAt(record: ScheduleRecord): number | undefined {
    const expr = this.expression(record);
    const next = expr && nextTick(expr, record.createdMs, record.state.lastTickMs);
    const at = nextActionMs(record.state, next, this.options);
    if (at === undefined) return undefined;
    return Math.max(at, (this.lastChecked.get(record.id) ?? 0) + this.options.minRecheckMs);
  }

  private async run(): Promise<void> {
    while (this.running) {
      const now = Date.now();
      let soonest = now + this.options.maxSleepMs;
      for (const record of this.deps.schedules.values()) {
        // One being evaluated wakes the loop when done.
        if (this.evaluating.has(record.id)) continue;
        const at = this.dueAt(record);
        if (at === undefined) continue;
        if (at <= now && this.evaluating.size < this.options.maxConcurrent) {
          this.lastChecked.set(record.id, now);
          const id = record.id;
          this.evaluating.set(
            id,
            this.evaluate(id)
              .catch((err: unknown) => this.deps.logger.warn('schedule evaluation failed; retrying', { schedule: id, err: toStratusError(err) }))
              .finally(() => {
                this.evaluating.delete(id);
                this.wake?.();
              }),
          );
        } else soonest = Math.min(soonest, Math.max(at, now + 10));
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, Math.max(1, soonest - Date.now()));
        this.timer.unref();
      });
      clearTimeout(this.timer);
      this.wake = undefined;
    }
  }

  private tolerance(ticks: TickSource, nowMs: number): number {
    const latest = ticks.latest(nowMs);
    const before = latest === undefined ? undefined : ticks.previous(latest);
    const gap = latest !== undefined && before !== undefined ? latest - before : Infinity;
    return Math.max(250, Math.min(this.options.lateToleranceMs, gap / 2));
  }

  /** Reads the schedule, claims what is due by compare-and-set, then fires what it claimed. */
  private async evaluate(id: string): Promise<void> {
    for (let attempt = 0; attempt < 5 && this.running; attempt += 1) {
      const entry = await this.deps.registry.getEntry(id);
      if (!entry) return;
      const { record, revision } = entry;
      const expr = this.expression(record);
      if (!expr) return;
      const ticks: TickSource = { latest: (at) => latestTick(expr, record.createdMs, at), previous: (t) => previousTick(expr, record.createdMs, t) };
      const nowMs = Date.now();
      const plan = planTicks(
        record.state,
        ticks,
        record.missedTicks,
        { nowMs, toleranceMs: this.tolerance(ticks, nowMs), takeoverAfterMs: this.options.takeoverAfterMs, abandonAfterMs: this.options.abandonAfterMs, maxFire: this.options.maxFirePerEvaluation },
        this.options.routerId,
      );
      if (!plan.changed) return;
      // Lost the race: another router changed the state; read it again.
      if (!(await this.deps.registry.update({ ...record, state: plan.state }, revision))) continue;
      for (const a of plan.abandon) {
        this.deps.logger.warn('schedule tick abandoned: its router did not finish it within the deduplication window, and firing it again could fire it twice', { schedule: id, tick: new Date(a.tickMs).toISOString(), claimedBy: a.claimedBy });
      }
      if (plan.skipped > 0) this.deps.logger.info('missed schedule ticks skipped (no router ran at their time)', { schedule: id, before: new Date(plan.state.lastTickMs).toISOString() });
      const claimed = plan.state.inflight.filter((f) => plan.fire.includes(f.tickMs) || plan.takeover.some((t) => t.tickMs === f.tickMs));
      for (const tick of claimed) await this.fireAndFinish(record, tick);
      return;
    }
  }

  private async fireAndFinish(record: ScheduleRecord, tick: InflightTick): Promise<void> {
    if (!safeToEnqueue(tick, Date.now(), this.options.abandonAfterMs)) return; // abandoned on the next evaluation
    try {
      await this.fire(record, tick.tickMs);
    } catch (err) {
      // Left in flight: this or another router takes it over after the grace period.
      this.deps.logger.warn('schedule tick not enqueued; it will be taken over', { schedule: record.id, tick: new Date(tick.tickMs).toISOString(), err: toStratusError(err) });
      return;
    }
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const entry = await this.deps.registry.getEntry(record.id);
      if (!entry || !entry.record.state.inflight.some((f) => f.tickMs === tick.tickMs)) return;
      if (await this.deps.registry.update({ ...entry.record, state: finishTick(entry.record.state, tick.tickMs) }, entry.revision)) return;
    }
    // Still listed as in flight: a router takes it over later, and JetStream drops the duplicate.
  }

  private async fire(record: ScheduleRecord, tickMs: number): Promise<void> {
    const fn = record.functionName;
    const target = await this.deps.cache.get(fn);
    if (!target) {
      if (!this.warned.has(record.id)) {
        this.warned.add(record.id);
        this.deps.logger.warn('schedule function does not exist; its ticks are dropped until it is deployed again or the schedule is deleted', { schedule: record.id, fn });
      }
      return;
    }
    const requestId = tickRequestId(record.id, tickMs);
    await this.deps.tracer.startActiveSpan('stratus.schedule.fire', { kind: SpanKind.PRODUCER }, async (span) => {
      span.setAttribute('faas.name', fn);
      span.setAttribute('faas.invocation_id', requestId);
      span.setAttribute('faas.cron', record.expression);
      try {
        const payload = tickPayload(record.payload, { scheduleId: record.id, tickMs, requestId, region: this.options.region, accountId: this.options.accountId });
        const decision = this.deps.access.checkNow({ kind: 'source', source: 'schedule', name: record.id, tenant: tenantOf(record), depth: 0 }, 'function:invoke', { kind: 'function', name: fn, tenant: tenantOf(target) });
        if (!decision.allowed) {
          // The function's owner does not (or no longer) let this schedule invoke it: the tick is kept where the function's failures go.
          await deadLetterUnrun(this.deps, { functionName: fn, functionArn: functionArn(this.options.region, this.options.accountId, fn), requestId, condition: 'AccessDenied', requestPayload: Buffer.from(payload), errorMessage: `${decision.reason}: ${decision.fix}` });
          return;
        }
        const { duplicate } = await this.deps.queue.enqueue({ functionName: fn, qualifier: record.qualifier ?? '', payload, requestId, enqueuedAtMs: Date.now(), attempt: 0, origin: { trigger: 'schedule', source: record.id } });
        this.deps.metrics.count(fn, duplicate ? 'duplicates' : 'accepted');
        this.deps.logger.debug('schedule tick enqueued', { schedule: record.id, tick: new Date(tickMs).toISOString(), duplicate });
        this.deps.watchAsync(fn);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    });
  }
}
