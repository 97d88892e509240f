/**
 * Placement benchmark: time per placement decision with 10,000 functions and 200 simulated
 * agents. The cluster view is fed real heartbeats, encoded and decoded the way agents and the
 * router do it, and each decision runs the router's hot path: the live agents from the view, then
 * placement, then booking the dispatch. The baseline is the same timed loop around a single Map
 * lookup: it is the floor any decision pays (the clock read and the loop around one keyed lookup),
 * so the ratio shows what placement adds on top of finding one function's entry.
 */
import { decodeHeartbeat, encodeHeartbeat, type AgentHeartbeat, type WarmCount } from '../sdk/platform/heartbeat';
import { ClusterView } from '../router/cluster/cluster-view';
import { place } from '../router/cluster/placement';
import { summarize, type LatencyStats } from './stats';
import { seededRandom } from '../test/helpers/seeded-random';

/** Figures of one placement run. */
export interface PlacementFigures {
  /** The invoker's hot path: concurrency check, indexed placement, booking. */
  decision: LatencyStats;
  /** Decisions when no agent holds an instance of the function (the "room" path). */
  coldDecision: LatencyStats;
  /** The same decisions the pre-index way: the concurrency count and `place(agents(), req)` scanning every agent. */
  scanDecision: LatencyStats;
  mapLookup: LatencyStats;
  /** Taking in one agent's heartbeat (decode, replace its view, re-index), agents already known. */
  heartbeatApply: LatencyStats;
  /** Decoding the same heartbeats only: what the router paid per heartbeat before any indexing. */
  heartbeatDecode: LatencyStats;
  functions: number;
  agents: number;
}


/**
 * Heartbeats of `agentCount` agents sharing `functionCount` functions: each function is warm on
 * `replicas` agents (some instances idle, some busy), as a busy cluster would report.
 */
function heartbeats(agentCount: number, functionCount: number, replicas: number, seq: number, random: () => number): AgentHeartbeat[] {
  const perAgent: WarmCount[][] = Array.from({ length: agentCount }, () => []);
  for (let f = 0; f < functionCount; f += 1) {
    for (let r = 0; r < replicas; r += 1) {
      const agent = perAgent[Math.floor(random() * agentCount)] as WarmCount[];
      agent.push({ functionName: `fn-${f}`, revisionId: `rev-${f}`, idle: random() < 0.5 ? 1 : 0, busy: random() < 0.5 ? 1 : 0, starting: 0 });
    }
  }
  return perAgent.map((functions, i) => ({
    agentId: `agent-${i}`,
    address: `10.0.${i >> 8}.${i & 255}:7100`,
    state: 'ready',
    seq,
    bootId: `boot-${i}`,
    sentAtMs: Date.now(),
    intervalMs: 1000,
    memoryTotalMb: 65_536,
    memoryFreeMb: Math.floor(random() * 16_384),
    idleMemoryMb: functions.filter((w) => w.idle > 0).length * 128,
    slotsTotal: 512,
    slotsFree: Math.floor(random() * 64),
    functions,
  }));
}

function timeLoop(rounds: number, op: (i: number) => void): LatencyStats {
  const samples = new Array<number>(rounds);
  const start = performance.now();
  for (let i = 0; i < rounds; i += 1) {
    const t0 = performance.now();
    op(i);
    samples[i] = performance.now() - t0;
  }
  return summarize(samples, performance.now() - start);
}

/** Measures placement decisions over a view fed `agents` agents' heartbeats carrying `functions` functions. */
export function measurePlacement(options: { functions: number; agents: number; rounds: number }): PlacementFigures {
  const random = seededRandom(8);
  const view = new ClusterView({ missedHeartbeats: 1_000_000 });
  const wire = heartbeats(options.agents, options.functions, 3, 1, random).map(encodeHeartbeat);
  for (const hb of wire) view.applyHeartbeat(decodeHeartbeat(hb));
  const exclude = new Set<string>();
  const names = Array.from({ length: options.functions }, (_, f) => f);
  let throttled = 0;
  const decide = (f: number, memoryMb: number): void => {
    const functionName = `fn-${f}`;
    // As the invoker does: the concurrency limits first, then placement, then the booking.
    if (view.concurrency(functionName).total >= Number.MAX_SAFE_INTEGER) throttled += 1;
    const d = view.place({ functionName, revisionId: `rev-${f}`, memoryMb, exclude });
    if (d.kind === 'dispatch') view.noteDispatch(d.agentId, functionName, `rev-${f}`, memoryMb, d.reason);
  };
  /** What ClusterView.concurrency() did before the index: every warm entry of every agent. */
  const scanConcurrency = (functionName: string): number => {
    let total = 0;
    let fn = 0;
    for (const a of view.agents()) {
      for (const [key, w] of a.warm) {
        total += w.busy + w.starting;
        if (key.startsWith(`${functionName}#`)) fn += w.busy + w.starting;
      }
    }
    return total + fn;
  };
  const scan = (f: number, memoryMb: number): void => {
    if (scanConcurrency(`fn-${f}`) >= Number.MAX_SAFE_INTEGER) throttled += 1;
    const d = place(view.agents(), { functionName: `fn-${f}`, revisionId: `rev-${f}`, memoryMb, exclude });
    if (d.kind === 'dispatch') view.noteDispatch(d.agentId, `fn-${f}`, `rev-${f}`, memoryMb, d.reason);
  };
  // Warm-up, so the timed loops see optimised code; then fresh heartbeats undo the bookings.
  for (let i = 0; i < 20_000; i += 1) decide(names[i % names.length] as number, 128);
  for (let i = 0; i < 500; i += 1) scan(names[i % names.length] as number, 128);
  const refresh = (seq: number): void => {
    for (const hb of heartbeats(options.agents, options.functions, 3, seq, seededRandom(8)).map(encodeHeartbeat)) view.applyHeartbeat(decodeHeartbeat(hb));
  };
  refresh(2);
  const pick = (i: number): number => Math.floor(((i * 2654435761) >>> 0) / 4294967296 * options.functions);
  const decision = timeLoop(options.rounds, (i) => decide(pick(i), 128));
  refresh(3);
  // Functions no agent runs: every decision takes the room path.
  const coldDecision = timeLoop(options.rounds, (i) => decide(options.functions + pick(i), 128));
  refresh(4);
  // The scans cost about a millisecond each: fewer rounds keep the bench short.
  const scanDecision = timeLoop(Math.min(options.rounds, 2000), (i) => scan(pick(i), 128));
  const map = new Map(names.map((f) => [`fn-${f}#rev-${f}`, f]));
  let sink = 0;
  const mapLookup = timeLoop(options.rounds, (i) => {
    sink += map.get(`fn-${pick(i)}#rev-${pick(i)}`) ?? 0;
  });
  const beats = Array.from({ length: 5 }, (_, k) => heartbeats(options.agents, options.functions, 3, 10 + k, seededRandom(8)).map(encodeHeartbeat)).flat();
  const heartbeatDecode = timeLoop(beats.length, (i) => {
    sink += decodeHeartbeat(beats[i] as Uint8Array).functions.length;
  });
  const heartbeatApply = timeLoop(beats.length, (i) => view.applyHeartbeat(decodeHeartbeat(beats[i] as Uint8Array)));
  if (sink < 0 || throttled > 0) throw new Error('unreachable');
  return { decision, coldDecision, scanDecision, mapLookup, heartbeatApply, heartbeatDecode, functions: options.functions, agents: options.agents };
}

if (require.main === module) {
  const f = measurePlacement({ functions: 10_000, agents: 200, rounds: Number(process.argv[2] ?? 100_000) });
  const us = (s: LatencyStats): string => `p50 ${(s.p50Ms * 1000).toFixed(2)} us, p99 ${(s.p99Ms * 1000).toFixed(2)} us, mean ${(s.meanMs * 1000).toFixed(2)} us`;
  process.stdout.write(`warm-path decision: ${us(f.decision)}\nroom-path decision: ${us(f.coldDecision)}\nscan decision (pre-index): ${us(f.scanDecision)}\nmap lookup: ${us(f.mapLookup)}\nheartbeat apply: ${us(f.heartbeatApply)}\nheartbeat decode only: ${us(f.heartbeatDecode)}\n`);
}
