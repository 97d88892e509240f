import type { MissedTicksPolicy } from '../../sdk/core/schedule-config';

/**
 * Which ticks of a schedule to fire, as plain functions over the schedule's stored state.
 *
 * Every router evaluates every schedule; the state lives in one KV entry per schedule and
 * changes only by compare-and-set, so exactly one router wins each change. A router that wins
 * records the ticks it fires as in flight, enqueues them (request id `sched-<id>-<tick>`, which
 * JetStream deduplicates), then removes them from the in-flight list. If it dies in between,
 * another router takes the tick over after a grace period and enqueues it again — a duplicate
 * JetStream drops, as long as it happens within the deduplication window. A tick still in
 * flight past half that window is abandoned instead (logged): it may have fired, and firing it
 * again could fire it twice.
 */


/** A tick a router claimed and is enqueueing. */
export interface InflightTick {
  tickMs: number;
  claimedBy: string;
  /** When it was first claimed: the deduplication window counts from here. */
  claimedAtMs: number;
  /** When another router last took it over (grace periods count from here). */
  takenOverAtMs?: number;
}

/** A schedule's firing state, stored with it. */
export interface ScheduleState {
  /** Every tick at or before this was fired, skipped or is in flight. */
  lastTickMs: number;
  inflight: InflightTick[];
}

/** How ticks are found; backed by schedule-expression.ts. */
export interface TickSource {
  /** The latest tick at or before `atMs`, or undefined. */
  latest(atMs: number): number | undefined;
  /** The tick before `tickMs`, or undefined. */
  previous(tickMs: number): number | undefined;
}

/** Timing rules of a plan. */
export interface PlanTiming {
  nowMs: number;
  /** A tick this close behind `nowMs` is on time; older ones were missed (no router ran). */
  toleranceMs: number;
  /** An in-flight tick is taken over after this long without being finished. */
  takeoverAfterMs: number;
  /** An in-flight tick older than this is abandoned rather than fired (see above). */
  abandonAfterMs: number;
  /** Most ticks fired in one plan (a bound on catch-up work). */
  maxFire: number;
}

/** The decision for one evaluation of one schedule. */
export interface TickPlan {
  /** New ticks to claim and fire, oldest first. */
  fire: number[];
  /** In-flight ticks to take over and fire again. */
  takeover: InflightTick[];
  /** In-flight ticks given up on. */
  abandon: InflightTick[];
  /** Missed ticks not fired (counted: only the latest is known exactly). */
  skipped: number;
  /** The state to write; equal to the input when nothing changes. */
  state: ScheduleState;
  /** False when there is nothing to write or fire. */
  changed: boolean;
}

/** Decides what to fire now. `router` is this router's id, recorded on claims. */
export function planTicks(state: ScheduleState, ticks: TickSource, policy: MissedTicksPolicy, timing: PlanTiming, router: string): TickPlan {
  const { nowMs } = timing;
  const latest = ticks.latest(nowMs);
  const onTime: number[] = [];
  let missed: number | undefined;
  let skipped = 0;
  if (latest !== undefined && latest > state.lastTickMs) {
    let t: number | undefined = latest;
    while (t !== undefined && t > state.lastTickMs && nowMs - t <= timing.toleranceMs && onTime.length < timing.maxFire) {
      onTime.unshift(t);
      t = ticks.previous(t);
    }
    if (t !== undefined && t > state.lastTickMs) missed = t;
  }
  const fire = missed !== undefined && policy === 'fire-once' ? [missed, ...onTime] : onTime;
  if (missed !== undefined && policy === 'skip') skipped = 1;

  const takeover: InflightTick[] = [];
  const abandon: InflightTick[] = [];
  const kept: InflightTick[] = [];
  for (const f of state.inflight) {
    if (nowMs - f.claimedAtMs > timing.abandonAfterMs) abandon.push(f);
    else if (nowMs - (f.takenOverAtMs ?? f.claimedAtMs) > timing.takeoverAfterMs) {
      const mine = { ...f, claimedBy: router, takenOverAtMs: nowMs };
      takeover.push(mine);
      kept.push(mine);
    } else kept.push(f);
  }
  const lastTickMs = latest !== undefined && latest > state.lastTickMs ? latest : state.lastTickMs;
  const next: ScheduleState = {
    lastTickMs,
    inflight: [...kept, ...fire.map((tickMs) => ({ tickMs, claimedBy: router, claimedAtMs: nowMs }))],
  };
  const changed = fire.length > 0 || takeover.length > 0 || abandon.length > 0 || lastTickMs !== state.lastTickMs;
  return { fire, takeover, abandon, skipped, state: changed ? next : state, changed };
}

/** The state once `tickMs` is enqueued: no longer in flight. */
export function finishTick(state: ScheduleState, tickMs: number): ScheduleState {
  return { ...state, inflight: state.inflight.filter((f) => f.tickMs !== tickMs) };
}

/** When this schedule next needs a router's attention: its next tick, or an in-flight tick's grace running out. */
export function nextActionMs(state: ScheduleState, nextTickMs: number | undefined, timing: Pick<PlanTiming, 'takeoverAfterMs' | 'abandonAfterMs'>): number | undefined {
  const times = state.inflight.map((f) => Math.min(f.claimedAtMs + timing.abandonAfterMs, (f.takenOverAtMs ?? f.claimedAtMs) + timing.takeoverAfterMs) + 1);
  if (nextTickMs !== undefined) times.push(nextTickMs);
  return times.length > 0 ? Math.min(...times) : undefined;
}

/** Whether an in-flight tick may still be enqueued without risking a second firing. */
export function safeToEnqueue(tick: InflightTick, nowMs: number, abandonAfterMs: number): boolean {
  return nowMs - tick.claimedAtMs <= abandonAfterMs;
}
