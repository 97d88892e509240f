import type { AgentHeartbeat, WarmCount } from '../../sdk/platform/heartbeat';
import { ClusterView } from './cluster-view';
import { place, warmKey, type AgentView, type PlacementRequest } from './placement';
import { seededRandom } from '../../test/helpers/seeded-random';


const FUNCTIONS = 6;
const int = (random: () => number, n: number): number => Math.floor(random() * n);

function randomHeartbeat(random: () => number, agentId: string, seq: number): AgentHeartbeat {
  const functions: WarmCount[] = [];
  for (let f = 0; f < FUNCTIONS; f += 1) {
    for (const rev of ['r1', 'r2']) {
      if (random() < 0.3) functions.push({ functionName: `fn${f}`, revisionId: rev, idle: int(random, 3), busy: int(random, 3), starting: int(random, 2) });
    }
  }
  return {
    agentId,
    address: `${agentId}:7000`,
    state: 'ready',
    seq,
    bootId: `boot-${agentId}`,
    sentAtMs: 0,
    intervalMs: 1000,
    memoryTotalMb: 4096,
    memoryFreeMb: int(random, 5) * 256,
    idleMemoryMb: int(random, 3) * 128,
    slotsTotal: 8,
    slotsFree: int(random, 3),
    functions,
  };
}

/** The agents each tier of the scan algorithm would choose among, for checking the indexed one. */
function tiers(agents: readonly AgentView[], req: PlacementRequest): { warm: string[]; local: string[]; roomy: string[] } {
  const key = warmKey(req.functionName, req.revisionId);
  const live = agents.filter((a) => !req.exclude.has(a.agentId));
  const room = live.filter((a) => a.memoryFreeMb + a.idleMemoryMb >= req.memoryMb && (a.slotsFree > 0 || a.idleMemoryMb > 0));
  return {
    warm: live.filter((a) => (a.warm.get(key)?.idle ?? 0) > 0).map((a) => a.agentId),
    local: room.filter((a) => (a.instancesByFunction.get(req.functionName) ?? 0) > 0).map((a) => a.agentId),
    roomy: room.map((a) => a.agentId),
  };
}

function bruteConcurrency(agents: readonly AgentView[], functionName: string): { total: number; function: number } {
  let total = 0;
  let fn = 0;
  for (const a of agents) {
    for (const [key, w] of a.warm) {
      total += w.busy + w.starting;
      if (key.startsWith(`${functionName}#`)) fn += w.busy + w.starting;
    }
  }
  return { total, function: fn };
}

describe('ClusterView.place (indexed)', () => {
  test('place decides like the scan of every agent when heartbeats, bookings, exclusions and departures interleave', () => {
    const random = seededRandom(42);
    const clock = { now: 0 };
    const view = new ClusterView({ missedHeartbeats: 3, now: () => clock.now });
    const seqs = new Map<string, number>();
    let checked = 0;
    for (let step = 0; step < 4000; step += 1) {
      const roll = random();
      const agentId = `a${int(random, 12)}`;
      if (roll < 0.15) {
        const seq = (seqs.get(agentId) ?? 0) + 1;
        seqs.set(agentId, seq);
        view.applyHeartbeat(randomHeartbeat(random, agentId, seq));
      } else if (roll < 0.17) {
        view.remove(agentId);
      } else if (roll < 0.19) {
        clock.now += int(random, 1500);
      } else {
        const functionName = `fn${int(random, FUNCTIONS + 1)}`;
        const revisionId = random() < 0.5 ? 'r1' : 'r2';
        const exclude = new Set(random() < 0.2 ? [`a${int(random, 12)}`, `a${int(random, 12)}`] : []);
        const req: PlacementRequest = { functionName, revisionId, memoryMb: [128, 256, 512, 1024][int(random, 4)] as number, exclude };
        const agents = view.agents();
        const expected = place(agents, req, seededRandom(step));
        const t = tiers(agents, req);
        expect(view.concurrency(functionName)).toEqual(bruteConcurrency(agents, functionName));
        const got = view.place(req, seededRandom(step));
        expect(got.kind).toBe(expected.kind);
        if (got.kind !== 'dispatch' || expected.kind !== 'dispatch') continue;
        expect(got.reason).toBe(expected.reason);
        const pool = got.reason === 'warm' ? t.warm : t.local.length > 0 ? t.local : t.roomy;
        expect(pool).toContain(got.agentId);
        view.noteDispatch(got.agentId, functionName, revisionId, req.memoryMb, got.reason);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  test('place picks the roomier of two random choices among agents with room when no agent holds the function', () => {
    const view = new ClusterView({ missedHeartbeats: 3 });
    const hb = (agentId: string, memoryFreeMb: number): AgentHeartbeat => ({ ...randomHeartbeat(() => 0.99, agentId, 1), functions: [], memoryFreeMb, idleMemoryMb: 0, slotsFree: 2 });
    view.applyHeartbeat(hb('small', 100));
    view.applyHeartbeat(hb('mid', 600));
    view.applyHeartbeat(hb('big', 900));
    const req: PlacementRequest = { functionName: 'new', revisionId: 'r', memoryMb: 512, exclude: new Set() };
    // 'small' cannot fit 512 MB; of the other two, the roomier wins whichever is drawn first.
    for (const first of [0, 0.99]) expect(view.place(req, () => first)).toMatchObject({ kind: 'dispatch', agentId: 'big', reason: 'room' });
    expect(view.place({ ...req, exclude: new Set(['big']) }, () => 0)).toMatchObject({ kind: 'dispatch', agentId: 'mid' });
    expect(view.place({ ...req, memoryMb: 1000 }, () => 0)).toEqual({ kind: 'wait', reason: 'no agent has room for another instance' });
  });

  test('place stops offering an agent when its heartbeats stop', () => {
    const clock = { now: 0 };
    const view = new ClusterView({ missedHeartbeats: 3, now: () => clock.now });
    view.applyHeartbeat({ ...randomHeartbeat(() => 0.99, 'a', 1), functions: [{ functionName: 'fn', revisionId: 'r', idle: 1, busy: 1, starting: 0 }] });
    const req: PlacementRequest = { functionName: 'fn', revisionId: 'r', memoryMb: 128, exclude: new Set() };
    expect(view.place(req)).toMatchObject({ kind: 'dispatch', agentId: 'a', reason: 'warm' });
    expect(view.concurrency('fn')).toEqual({ total: 1, function: 1 });
    clock.now = 3001;
    expect(view.place(req)).toEqual({ kind: 'reject', reason: 'no agents are connected' });
    expect(view.concurrency('fn')).toEqual({ total: 0, function: 0 });
  });

  test('place takes an agent off the warm list when bookings use its last idle instance', () => {
    const view = new ClusterView({ missedHeartbeats: 3 });
    view.applyHeartbeat({ ...randomHeartbeat(() => 0.99, 'a', 1), slotsFree: 0, idleMemoryMb: 0, memoryFreeMb: 0, functions: [{ functionName: 'fn', revisionId: 'r', idle: 1, busy: 0, starting: 0 }] });
    const req: PlacementRequest = { functionName: 'fn', revisionId: 'r', memoryMb: 128, exclude: new Set() };
    expect(view.place(req)).toMatchObject({ kind: 'dispatch', reason: 'warm' });
    view.noteDispatch('a', 'fn', 'r', 128, 'warm');
    expect(view.place(req)).toEqual({ kind: 'wait', reason: 'no agent has room for another instance' });
  });
});
