import { place, warmKey, type AgentView, type PlacementRequest, type WarmView } from './placement';
import { seededRandom } from '../../test/helpers/seeded-random';

const FN = 'resize';
const REV = 'rev-2';

interface AgentSpec {
  memoryFreeMb?: number;
  idleMemoryMb?: number;
  slotsFree?: number;
  /** [functionName, revisionId, counts] */
  warm?: Array<[string, string, Partial<WarmView>]>;
}

function agent(agentId: string, spec: AgentSpec = {}): AgentView {
  const warm = new Map<string, WarmView>();
  const instancesByFunction = new Map<string, number>();
  for (const [fn, rev, counts] of spec.warm ?? []) {
    const w = { idle: 0, busy: 0, starting: 0, ...counts };
    warm.set(warmKey(fn, rev), w);
    instancesByFunction.set(fn, (instancesByFunction.get(fn) ?? 0) + w.idle + w.busy + w.starting);
  }
  return {
    agentId,
    address: `${agentId}.local:7000`,
    memoryFreeMb: spec.memoryFreeMb ?? 1024,
    idleMemoryMb: spec.idleMemoryMb ?? 0,
    slotsFree: spec.slotsFree ?? 4,
    warm,
    instancesByFunction,
  };
}

function request(overrides: Partial<PlacementRequest> = {}): PlacementRequest {
  return { functionName: FN, revisionId: REV, memoryMb: 256, exclude: new Set(), ...overrides };
}

/** A random source that returns the given values in turn (then repeats the last). */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)] as number;
}


describe('place', () => {
  test('place picks the warm agent over a roomier one when an idle instance of the exact revision exists', () => {
    const warm = agent('a-warm', { memoryFreeMb: 0, slotsFree: 0, warm: [[FN, REV, { idle: 1 }]] });
    const roomy = agent('b-roomy', { memoryFreeMb: 8192, slotsFree: 16 });
    const decision = place([roomy, warm], request(), sequence(0));
    expect(decision).toEqual({ kind: 'dispatch', agentId: 'a-warm', address: 'a-warm.local:7000', reason: 'warm' });
  });

  test('place does not count an idle instance as warm when it runs a different revision', () => {
    const stale = agent('a-stale', { memoryFreeMb: 0, slotsFree: 0, warm: [[FN, 'rev-1', { idle: 3 }]] });
    const roomy = agent('b-roomy');
    const decision = place([stale, roomy], request(), sequence(0));
    expect(decision).toMatchObject({ kind: 'dispatch', agentId: 'b-roomy', reason: 'room' });
  });

  test('place does not count busy or starting instances as warm when none is idle', () => {
    const busy = agent('a-busy', { warm: [[FN, REV, { busy: 2, starting: 1 }]] });
    const decision = place([busy], request(), sequence(0));
    expect(decision).toMatchObject({ kind: 'dispatch', agentId: 'a-busy', reason: 'room' });
  });

  test('place prefers an agent already running the function for a new instance when it has room', () => {
    // The local agent has less free memory, so two-choices alone would pick the other one.
    const local = agent('a-local', { memoryFreeMb: 512, warm: [[FN, REV, { busy: 1 }]] });
    const other = agent('b-other', { memoryFreeMb: 8192 });
    for (const r of [0, 0.49, 0.5, 0.99]) {
      expect(place([other, local], request(), sequence(r, r))).toMatchObject({ agentId: 'a-local', reason: 'room' });
    }
  });

  test('place counts any revision of the function as local when looking for warm locality', () => {
    const local = agent('a-local', { memoryFreeMb: 512, warm: [[FN, 'rev-1', { busy: 1 }]] });
    const other = agent('b-other', { memoryFreeMb: 8192 });
    expect(place([other, local], request(), sequence(0, 0))).toMatchObject({ agentId: 'a-local', reason: 'room' });
  });

  test('place skips warm locality when the local agent has no room', () => {
    const local = agent('a-local', { memoryFreeMb: 100, slotsFree: 0, warm: [[FN, REV, { busy: 1 }]] });
    const other = agent('b-other', { memoryFreeMb: 1024 });
    expect(place([local, other], request(), sequence(0, 0))).toMatchObject({ agentId: 'b-other', reason: 'room' });
  });

  test('place counts idle memory of other functions as room when free memory alone is too small', () => {
    const reclaim = agent('a-reclaim', { memoryFreeMb: 64, idleMemoryMb: 256, slotsFree: 0, warm: [['other', 'r', { idle: 2 }]] });
    expect(place([reclaim], request({ memoryMb: 256 }))).toMatchObject({ kind: 'dispatch', agentId: 'a-reclaim', reason: 'room' });
  });

  test('place says wait when free plus reclaimable memory is still too small', () => {
    const tight = agent('a-tight', { memoryFreeMb: 64, idleMemoryMb: 128, slotsFree: 2 });
    expect(place([tight], request({ memoryMb: 256 }))).toMatchObject({ kind: 'wait' });
  });

  test('place says wait when memory is free but no slot is free and nothing is idle', () => {
    const full = agent('a-full', { memoryFreeMb: 4096, idleMemoryMb: 0, slotsFree: 0 });
    expect(place([full], request())).toMatchObject({ kind: 'wait' });
  });

  test('place skips excluded agents when they are warm or roomy', () => {
    const warm = agent('a-warm', { warm: [[FN, REV, { idle: 1 }]] });
    const roomy = agent('b-roomy');
    const decision = place([warm, roomy], request({ exclude: new Set(['a-warm']) }), sequence(0, 0));
    expect(decision).toMatchObject({ kind: 'dispatch', agentId: 'b-roomy', reason: 'room' });
  });

  test('place says wait when every agent is excluded', () => {
    const decision = place([agent('a'), agent('b')], request({ exclude: new Set(['a', 'b']) }));
    expect(decision.kind).toBe('wait');
  });

  test('place says wait when agents exist but none has room', () => {
    const decision = place([agent('a', { memoryFreeMb: 0 }), agent('b', { slotsFree: 0 })], request());
    expect(decision).toEqual({ kind: 'wait', reason: expect.any(String) });
  });

  test('place rejects when no agents are connected', () => {
    expect(place([], request())).toEqual({ kind: 'reject', reason: expect.any(String) });
  });

  test('place picks the roomier of the two random choices when both have room', () => {
    const agents = [agent('a', { memoryFreeMb: 512 }), agent('b', { memoryFreeMb: 2048 }), agent('c', { memoryFreeMb: 1024 })];
    // 0.0 → index 0 ('a'); 0.5 → index 1 of the remaining two, skipping 'a' → 'c'.
    expect(place(agents, request(), sequence(0, 0.5))).toMatchObject({ agentId: 'c' });
    // 0.0 → 'a'; 0.0 → first of the others → 'b'.
    expect(place(agents, request(), sequence(0, 0))).toMatchObject({ agentId: 'b' });
    // 0.4 → 'b'; 0.9 → 'c': 'b' is roomier.
    expect(place(agents, request(), sequence(0.4, 0.9))).toMatchObject({ agentId: 'b' });
  });

  test('place picks the warm agent with more idle instances of the two random choices when several are warm', () => {
    const agents = [
      agent('a', { warm: [[FN, REV, { idle: 1 }]] }),
      agent('b', { warm: [[FN, REV, { idle: 3 }]] }),
      agent('c', { warm: [[FN, REV, { idle: 2 }]] }),
    ];
    expect(place(agents, request(), sequence(0, 0.99))).toMatchObject({ agentId: 'c', reason: 'warm' });
    expect(place(agents, request(), sequence(0.99, 0.5))).toMatchObject({ agentId: 'b', reason: 'warm' });
  });

  test('place never picks the same agent twice as both choices when random repeats', () => {
    const agents = [agent('a', { memoryFreeMb: 2048 }), agent('b', { memoryFreeMb: 512 })];
    // Both draws land on index 0; the second is shifted past it, so 'a' is compared with 'b'.
    expect(place(agents, request(), sequence(0, 0))).toMatchObject({ agentId: 'a' });
    expect(place(agents, request(), sequence(0.99, 0.99))).toMatchObject({ agentId: 'a' });
  });

  test('place spreads decisions across many equal agents when random is seeded', () => {
    const agents = Array.from({ length: 10 }, (_, i) => agent(`agent-${i}`, { memoryFreeMb: 4096 }));
    const random = seededRandom(42);
    const counts = new Map<string, number>();
    for (let n = 0; n < 1000; n++) {
      const d = place(agents, request(), random);
      if (d.kind !== 'dispatch') throw new Error(`expected dispatch, got ${d.kind}`);
      counts.set(d.agentId, (counts.get(d.agentId) ?? 0) + 1);
    }
    expect(counts.size).toBe(10);
    // A fair spread gives 100 each; none should get more than double or less than half of that.
    for (const c of counts.values()) {
      expect(c).toBeGreaterThan(50);
      expect(c).toBeLessThan(200);
    }
  });

  test('place favours roomier agents but still spreads when agents differ in free memory', () => {
    const agents = Array.from({ length: 8 }, (_, i) => agent(`agent-${i}`, { memoryFreeMb: 1024 + i * 128 }));
    const random = seededRandom(7);
    const counts = new Map<string, number>();
    for (let n = 0; n < 1000; n++) {
      const d = place(agents, request(), random);
      if (d.kind === 'dispatch') counts.set(d.agentId, (counts.get(d.agentId) ?? 0) + 1);
    }
    // The least free agent always loses its comparison; the roomiest always wins one.
    expect(counts.get('agent-0') ?? 0).toBe(0);
    expect(counts.get('agent-7') ?? 0).toBeGreaterThan(counts.get('agent-1') ?? 0);
    expect(counts.size).toBe(7);
  });
});
