import type { AgentHeartbeat, WarmCount } from '../../sdk/platform/heartbeat';
import { ClusterView } from './cluster-view';
import { warmKey } from './placement';

const INTERVAL_MS = 1000;

function heartbeat(overrides: Partial<AgentHeartbeat> = {}): AgentHeartbeat {
  return {
    agentId: 'agent-1',
    address: 'agent-1.local:7000',
    state: 'ready',
    seq: 1,
    bootId: 'boot-a',
    sentAtMs: 0,
    intervalMs: INTERVAL_MS,
    memoryTotalMb: 4096,
    memoryFreeMb: 2048,
    idleMemoryMb: 0,
    slotsTotal: 8,
    slotsFree: 8,
    functions: [],
    ...overrides,
  };
}

function warm(functionName: string, revisionId: string, counts: Partial<Omit<WarmCount, 'functionName' | 'revisionId'>>): WarmCount {
  return { functionName, revisionId, idle: 0, busy: 0, starting: 0, ...counts };
}

/** A view with a controllable clock. */
function viewAt(startMs = 10_000, missedHeartbeats = 3): { view: ClusterView; clock: { now: number } } {
  const clock = { now: startMs };
  return { view: new ClusterView({ missedHeartbeats, now: () => clock.now }), clock };
}

describe('ClusterView', () => {
  test('applyHeartbeat adds an agent when its first heartbeat arrives', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ functions: [warm('fn', 'r1', { idle: 2, busy: 1 }), warm('fn', 'r0', { starting: 1 })] }));
    const agents = view.agents();
    expect(agents).toHaveLength(1);
    const a = agents[0]!;
    expect(a).toMatchObject({ agentId: 'agent-1', address: 'agent-1.local:7000', memoryFreeMb: 2048, idleMemoryMb: 0, slotsFree: 8 });
    expect(a.warm.get(warmKey('fn', 'r1'))).toEqual({ idle: 2, busy: 1, starting: 0 });
    expect(a.instancesByFunction.get('fn')).toBe(4);
  });

  test('applyHeartbeat keeps several agents apart when they have different ids', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ agentId: 'a' }));
    view.applyHeartbeat(heartbeat({ agentId: 'b' }));
    expect(view.agents().map((a) => a.agentId).sort()).toEqual(['a', 'b']);
  });

  test('applyHeartbeat treats a missing idleMemoryMb as zero when an older agent omits it', () => {
    const { view } = viewAt();
    const hb = heartbeat();
    delete (hb as Partial<AgentHeartbeat>).idleMemoryMb;
    view.applyHeartbeat(hb);
    expect(view.agents()[0]?.idleMemoryMb).toBe(0);
  });

  test('applyHeartbeat ignores a heartbeat when its seq is not newer for the same bootId', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ seq: 5, memoryFreeMb: 1000 }));
    view.applyHeartbeat(heartbeat({ seq: 4, memoryFreeMb: 10 }));
    view.applyHeartbeat(heartbeat({ seq: 5, memoryFreeMb: 20 }));
    expect(view.agents()[0]?.memoryFreeMb).toBe(1000);
    view.applyHeartbeat(heartbeat({ seq: 6, memoryFreeMb: 30 }));
    expect(view.agents()[0]?.memoryFreeMb).toBe(30);
  });

  test('applyHeartbeat replaces the agent when a new bootId arrives with a lower seq', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ seq: 50, bootId: 'boot-a', functions: [warm('fn', 'r1', { idle: 3 })] }));
    view.applyHeartbeat(heartbeat({ seq: 1, bootId: 'boot-b', memoryFreeMb: 4096 }));
    const a = view.agents()[0]!;
    expect(a.memoryFreeMb).toBe(4096);
    expect(a.warm.size).toBe(0);
    expect(view.heartbeats()[0]?.hb.bootId).toBe('boot-b');
  });

  test('agents drops an agent when missedHeartbeats × intervalMs pass without a heartbeat', () => {
    const { view, clock } = viewAt(10_000, 3);
    view.applyHeartbeat(heartbeat());
    clock.now += 3 * INTERVAL_MS;
    expect(view.agents()).toHaveLength(1);
    clock.now += 1;
    expect(view.agents()).toHaveLength(0);
    expect(view.heartbeats()).toHaveLength(0);
  });

  test('agents keeps an agent alive when each heartbeat arrives within the window', () => {
    const { view, clock } = viewAt(10_000, 3);
    for (let seq = 1; seq <= 5; seq++) {
      view.applyHeartbeat(heartbeat({ seq }));
      clock.now += 2 * INTERVAL_MS;
    }
    expect(view.agents()).toHaveLength(1);
  });

  test('agents uses each agent’s own interval when agents publish at different rates', () => {
    const { view, clock } = viewAt(10_000, 3);
    view.applyHeartbeat(heartbeat({ agentId: 'fast', intervalMs: 100 }));
    view.applyHeartbeat(heartbeat({ agentId: 'slow', intervalMs: 5000 }));
    clock.now += 1000;
    expect(view.agents().map((a) => a.agentId)).toEqual(['slow']);
  });

  test('heartbeats reports when each heartbeat was received when asked', () => {
    const { view } = viewAt(12_345);
    view.applyHeartbeat(heartbeat());
    expect(view.heartbeats()).toEqual([{ hb: expect.objectContaining({ agentId: 'agent-1' }), receivedAtMs: 12_345 }]);
  });

  test('applyHeartbeat removes the agent when it reports draining', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ seq: 1 }));
    view.applyHeartbeat(heartbeat({ seq: 2, state: 'draining' }));
    expect(view.agents()).toHaveLength(0);
  });

  test('applyHeartbeat does not add an agent when its first heartbeat is already draining', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ state: 'draining' }));
    expect(view.agents()).toHaveLength(0);
  });

  test('remove drops an agent at once when asked', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat());
    view.remove('agent-1');
    view.remove('not-there');
    expect(view.agents()).toHaveLength(0);
  });

  test('noteDispatch books an idle instance as busy when the dispatch was warm', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ idleMemoryMb: 512, slotsFree: 4, functions: [warm('fn', 'r1', { idle: 2 })] }));
    view.noteDispatch('agent-1', 'fn', 'r1', 256, 'warm');
    const a = view.agents()[0]!;
    expect(a.warm.get(warmKey('fn', 'r1'))).toEqual({ idle: 1, busy: 1, starting: 0 });
    expect(a.idleMemoryMb).toBe(256);
    // A warm dispatch uses an existing instance: free memory, slots and instance counts are unchanged.
    expect(a.memoryFreeMb).toBe(2048);
    expect(a.slotsFree).toBe(4);
    expect(a.instancesByFunction.get('fn')).toBe(2);
  });

  test('noteDispatch books a starting instance, its memory and a slot when the dispatch was for room', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ memoryFreeMb: 1024, slotsFree: 2 }));
    view.noteDispatch('agent-1', 'fn', 'r1', 256, 'room');
    const a = view.agents()[0]!;
    expect(a.warm.get(warmKey('fn', 'r1'))).toEqual({ idle: 0, busy: 0, starting: 1 });
    expect(a.instancesByFunction.get('fn')).toBe(1);
    expect(a.memoryFreeMb).toBe(768);
    expect(a.slotsFree).toBe(1);
  });

  test('noteDispatch books a new instance when a warm dispatch finds no idle one left', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ memoryFreeMb: 1024, slotsFree: 2, functions: [warm('fn', 'r1', { idle: 1 })] }));
    view.noteDispatch('agent-1', 'fn', 'r1', 256, 'warm');
    view.noteDispatch('agent-1', 'fn', 'r1', 256, 'warm');
    const a = view.agents()[0]!;
    expect(a.warm.get(warmKey('fn', 'r1'))).toEqual({ idle: 0, busy: 1, starting: 1 });
    expect(a.memoryFreeMb).toBe(768);
  });

  test('noteDispatch never books memory or slots below zero when dispatches outrun heartbeats', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ memoryFreeMb: 300, slotsFree: 1 }));
    view.noteDispatch('agent-1', 'fn', 'r1', 256, 'room');
    view.noteDispatch('agent-1', 'fn', 'r1', 256, 'room');
    const a = view.agents()[0]!;
    expect(a.memoryFreeMb).toBe(0);
    expect(a.slotsFree).toBe(0);
  });

  test('noteDispatch ignores an agent when it is not in the view', () => {
    const { view } = viewAt();
    expect(() => view.noteDispatch('ghost', 'fn', 'r1', 256, 'room')).not.toThrow();
    expect(view.agents()).toHaveLength(0);
  });

  test('applyHeartbeat replaces booked dispatches with the truth when the next heartbeat arrives', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ seq: 1, memoryFreeMb: 1024, slotsFree: 2, functions: [warm('fn', 'r1', { idle: 1 })] }));
    view.noteDispatch('agent-1', 'fn', 'r1', 256, 'warm');
    view.noteDispatch('agent-1', 'fn', 'r1', 256, 'room');
    view.applyHeartbeat(heartbeat({ seq: 2, memoryFreeMb: 1000, slotsFree: 2, functions: [warm('fn', 'r1', { idle: 2 })] }));
    const a = view.agents()[0]!;
    expect(a.warm.get(warmKey('fn', 'r1'))).toEqual({ idle: 2, busy: 0, starting: 0 });
    expect(a.memoryFreeMb).toBe(1000);
    expect(a.slotsFree).toBe(2);
  });

  test('noteDispatch does not change the heartbeat it was built from when it books', () => {
    const { view } = viewAt();
    const hb = heartbeat({ functions: [warm('fn', 'r1', { idle: 1 })] });
    view.applyHeartbeat(hb);
    view.noteDispatch('agent-1', 'fn', 'r1', 256, 'warm');
    expect(hb.functions[0]).toEqual(warm('fn', 'r1', { idle: 1 }));
    expect(view.heartbeats()[0]?.hb.memoryFreeMb).toBe(2048);
  });

  test('waitForChange resolves when a heartbeat arrives', async () => {
    const { view } = viewAt();
    let resolved = false;
    const waiting = view.waitForChange(60_000).then(() => {
      resolved = true;
    });
    await Promise.resolve();
    expect(resolved).toBe(false);
    view.applyHeartbeat(heartbeat());
    await waiting;
    expect(resolved).toBe(true);
  });

  test('waitForChange resolves when an agent is removed', async () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat());
    const waiting = view.waitForChange(60_000);
    view.remove('agent-1');
    await expect(waiting).resolves.toBeUndefined();
  });

  test('waitForChange stays pending when a stale heartbeat is ignored', async () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ seq: 2 }));
    let resolved = false;
    const waiting = view.waitForChange(50).then(() => {
      resolved = true;
    });
    view.applyHeartbeat(heartbeat({ seq: 1 }));
    await Promise.resolve();
    await Promise.resolve();
    expect(resolved).toBe(false);
    await waiting;
  });

  test('waitForChange resolves after the given time when nothing changes', async () => {
    const { view } = viewAt();
    const started = Date.now();
    await view.waitForChange(30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  test('waitForChange wakes every waiter when one heartbeat arrives', async () => {
    const { view } = viewAt();
    const waits = [view.waitForChange(60_000), view.waitForChange(60_000), view.waitForChange(60_000)];
    view.applyHeartbeat(heartbeat());
    await expect(Promise.all(waits)).resolves.toHaveLength(3);
  });

  test('applyHeartbeat ignores a late ready heartbeat when the same boot already said it is draining', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ seq: 1 }));
    view.applyHeartbeat(heartbeat({ seq: 3, state: 'draining' }));
    view.applyHeartbeat(heartbeat({ seq: 2 }));
    expect(view.agents()).toHaveLength(0);
  });

  test('applyHeartbeat brings an agent back when it speaks again after being removed as unreachable', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ seq: 5 }));
    view.remove('agent-1');
    view.applyHeartbeat(heartbeat({ seq: 5 }));
    expect(view.agents()).toHaveLength(0);
    view.applyHeartbeat(heartbeat({ seq: 6 }));
    expect(view.agents()).toHaveLength(1);
  });

  test('concurrency counts busy and starting instances per function and in total when agents report them', () => {
    const { view } = viewAt();
    view.applyHeartbeat(heartbeat({ agentId: 'a', functions: [warm('fn', 'r1', { idle: 3, busy: 2, starting: 1 }), warm('other', 'r1', { busy: 1 })] }));
    view.applyHeartbeat(heartbeat({ agentId: 'b', bootId: 'boot-b', functions: [warm('fn', 'r2', { busy: 1 })] }));
    expect(view.concurrency('fn')).toEqual({ total: 5, function: 4 });
    view.noteDispatch('b', 'fn', 'r2', 128, 'room');
    expect(view.concurrency('fn')).toEqual({ total: 6, function: 5 });
    expect(view.concurrency('fnx')).toEqual({ total: 6, function: 0 });
  });
});
