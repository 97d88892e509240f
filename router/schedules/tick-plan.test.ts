import { finishTick, nextActionMs, planTicks, safeToEnqueue, type ScheduleState, type TickSource } from './tick-plan';

const PERIOD = 10_000;
/** Rate ticks every 10 s from 0. */
const ticks: TickSource = {
  latest: (at) => (at >= PERIOD ? Math.floor(at / PERIOD) * PERIOD : undefined),
  previous: (t) => (t - PERIOD >= PERIOD ? t - PERIOD : undefined),
};
const timing = (nowMs: number) => ({ nowMs, toleranceMs: 5000, takeoverAfterMs: 5000, abandonAfterMs: 300_000, maxFire: 10 });
const fresh = (lastTickMs: number): ScheduleState => ({ lastTickMs, inflight: [] });

describe('planTicks', () => {
  test('planTicks fires the tick and records it in flight when evaluated on time', () => {
    const plan = planTicks(fresh(0), ticks, 'fire-once', timing(10_050), 'r1');
    expect(plan.fire).toEqual([10_000]);
    expect(plan.state).toEqual({ lastTickMs: 10_000, inflight: [{ tickMs: 10_000, claimedBy: 'r1', claimedAtMs: 10_050 }] });
    expect(plan.changed).toBe(true);
  });
  test('planTicks changes nothing when no tick is due', () => {
    const state = fresh(10_000);
    const plan = planTicks(state, ticks, 'fire-once', timing(19_999), 'r1');
    expect(plan.changed).toBe(false);
    expect(plan.state).toBe(state);
  });
  test('planTicks fires only the latest missed tick, late, when no router ran for several ticks and the policy is fire-once', () => {
    const plan = planTicks(fresh(10_000), ticks, 'fire-once', timing(57_000), 'r1');
    expect(plan.fire).toEqual([50_000]);
    expect(plan.state.lastTickMs).toBe(50_000);
  });
  test('planTicks fires nothing but moves past missed ticks when the policy is skip', () => {
    const plan = planTicks(fresh(10_000), ticks, 'skip', timing(57_000), 'r1');
    expect(plan.fire).toEqual([]);
    expect(plan.skipped).toBe(1);
    expect(plan.state).toEqual({ lastTickMs: 50_000, inflight: [] });
    expect(plan.changed).toBe(true);
  });
  test('planTicks fires the on-time tick and, with fire-once, the latest missed one when a router starts just after a tick', () => {
    expect(planTicks(fresh(10_000), ticks, 'fire-once', timing(51_000), 'r1').fire).toEqual([40_000, 50_000]);
    expect(planTicks(fresh(10_000), ticks, 'skip', timing(51_000), 'r1').fire).toEqual([50_000]);
  });
  test('planTicks fires nothing twice when the state already covers the tick', () => {
    const first = planTicks(fresh(0), ticks, 'fire-once', timing(10_010), 'r1');
    const second = planTicks(first.state, ticks, 'fire-once', timing(10_020), 'r2');
    expect(second.fire).toEqual([]);
    expect(second.takeover).toEqual([]);
    expect(second.changed).toBe(false);
  });
  test('planTicks leaves an in-flight tick alone when its router is still within the grace period', () => {
    const state: ScheduleState = { lastTickMs: 10_000, inflight: [{ tickMs: 10_000, claimedBy: 'r1', claimedAtMs: 10_000 }] };
    const plan = planTicks(state, ticks, 'fire-once', timing(14_000), 'r2');
    expect(plan.takeover).toEqual([]);
    expect(plan.changed).toBe(false);
  });
  test('planTicks takes over an in-flight tick, keeping its claim time, when its router did not finish within the grace period', () => {
    const state: ScheduleState = { lastTickMs: 10_000, inflight: [{ tickMs: 10_000, claimedBy: 'r1', claimedAtMs: 10_000 }] };
    const plan = planTicks(state, ticks, 'fire-once', timing(15_001), 'r2');
    expect(plan.takeover).toEqual([{ tickMs: 10_000, claimedBy: 'r2', claimedAtMs: 10_000, takenOverAtMs: 15_001 }]);
    expect(plan.state.inflight).toEqual(plan.takeover);
    // A second router right after sees the takeover and waits a new grace period.
    expect(planTicks(plan.state, ticks, 'fire-once', timing(15_002), 'r3').takeover).toEqual([]);
  });
  test('planTicks keeps claiming new ticks when an earlier one is still in flight', () => {
    const state: ScheduleState = { lastTickMs: 10_000, inflight: [{ tickMs: 10_000, claimedBy: 'r1', claimedAtMs: 10_000 }] };
    const plan = planTicks(state, ticks, 'fire-once', timing(20_010), 'r2');
    expect(plan.fire).toEqual([20_000]);
    expect(plan.takeover.map((t) => t.tickMs)).toEqual([10_000]);
    expect(plan.state.inflight.map((t) => t.tickMs).sort()).toEqual([10_000, 20_000]);
  });
  test('planTicks abandons an in-flight tick when it is older than the safe window', () => {
    const state: ScheduleState = { lastTickMs: 10_000, inflight: [{ tickMs: 10_000, claimedBy: 'r1', claimedAtMs: 10_000 }] };
    const plan = planTicks(state, ticks, 'fire-once', { ...timing(10_000 + 300_001), maxFire: 10 }, 'r2');
    expect(plan.abandon.map((t) => t.tickMs)).toEqual([10_000]);
    expect(plan.state.inflight.some((t) => t.tickMs === 10_000)).toBe(false);
  });
  test('planTicks fires at most maxFire ticks when many are on time', () => {
    const dense: TickSource = { latest: (at) => Math.floor(at / 100) * 100, previous: (t) => (t > 100 ? t - 100 : undefined) };
    const plan = planTicks(fresh(0), dense, 'fire-once', { ...timing(5000), maxFire: 3 }, 'r1');
    expect(plan.fire.length).toBeLessThanOrEqual(4);
    expect(plan.state.lastTickMs).toBe(5000);
  });
});

describe('helpers', () => {
  test('finishTick removes only the finished tick when several are in flight', () => {
    const state: ScheduleState = { lastTickMs: 20_000, inflight: [{ tickMs: 10_000, claimedBy: 'a', claimedAtMs: 1 }, { tickMs: 20_000, claimedBy: 'b', claimedAtMs: 2 }] };
    expect(finishTick(state, 10_000).inflight).toEqual([{ tickMs: 20_000, claimedBy: 'b', claimedAtMs: 2 }]);
  });
  test('nextActionMs is the earlier of the next tick and a grace period running out when ticks are in flight', () => {
    const t = { takeoverAfterMs: 5000, abandonAfterMs: 300_000 };
    expect(nextActionMs(fresh(0), 10_000, t)).toBe(10_000);
    expect(nextActionMs({ lastTickMs: 10_000, inflight: [{ tickMs: 10_000, claimedBy: 'a', claimedAtMs: 10_000 }] }, 20_000, t)).toBe(15_001);
    expect(nextActionMs(fresh(0), undefined, t)).toBeUndefined();
  });
  test('safeToEnqueue is false when the claim is older than the safe window', () => {
    expect(safeToEnqueue({ tickMs: 1, claimedBy: 'a', claimedAtMs: 0 }, 1000, 2000)).toBe(true);
    expect(safeToEnqueue({ tickMs: 1, claimedBy: 'a', claimedAtMs: 0 }, 3000, 2000)).toBe(false);
  });
});

describe('protocol', () => {
  /**
   * Three routers evaluate every 100 ms against one compare-and-set cell; router r2 crashes
   * right after winning a claim (it never enqueues). Each tick must be enqueued, and every
   * enqueue of a tick after the first must fall within the deduplication window.
   */
  test('each tick is enqueued and any repeat falls within the dedup window when routers race and one crashes mid-tick', () => {
    let cell = { state: fresh(0), revision: 1 };
    const enqueued = new Map<number, number[]>();
    const alive = new Set(['r1', 'r2', 'r3']);
    const pendingFinish: Array<{ router: string; tickMs: number }> = [];
    for (let now = 0; now <= 120_000; now += 100) {
      // Finish what was enqueued in the previous step.
      for (const f of pendingFinish.splice(0)) if (alive.has(f.router)) cell = { state: finishTick(cell.state, f.tickMs), revision: cell.revision + 1 };
      for (const router of ['r2', 'r1', 'r3']) {
        if (!alive.has(router)) continue;
        const read = cell;
        const plan = planTicks(read.state, ticks, 'fire-once', timing(now + (router === 'r3' ? 7 : 0)), router);
        if (!plan.changed || read.revision !== cell.revision) continue;
        cell = { state: plan.state, revision: cell.revision + 1 };
        if (router === 'r2' && now >= 40_000) {
          alive.delete('r2'); // dies holding its claim
          continue;
        }
        for (const t of [...plan.fire, ...plan.takeover.map((x) => x.tickMs)]) {
          enqueued.set(t, [...(enqueued.get(t) ?? []), now]);
          pendingFinish.push({ router, tickMs: t });
        }
      }
    }
    for (const f of pendingFinish.splice(0)) cell = { state: finishTick(cell.state, f.tickMs), revision: cell.revision + 1 };
    const expected = Array.from({ length: 12 }, (_, i) => (i + 1) * PERIOD);
    expect([...enqueued.keys()].sort((a, b) => a - b)).toEqual(expected);
    for (const times of enqueued.values()) expect(Math.max(...times) - Math.min(...times)).toBeLessThan(300_000);
    expect(alive.has('r2')).toBe(false);
    expect(cell.state.inflight).toEqual([]);
  });
});
