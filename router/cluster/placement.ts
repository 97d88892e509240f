/**
 * Placement: which agent should run an invocation. Pure functions over a small view of the
 * cluster, so they are fast (they run on every invocation) and tested without I/O.
 */

/** Instances one agent holds for one function revision. */
export interface WarmView {
  idle: number;
  busy: number;
  starting: number;
}

/** What placement knows of one agent. */
export interface AgentView {
  agentId: string;
  address: string;
  memoryFreeMb: number;
  /** Memory of idle instances the agent would stop to make room. */
  idleMemoryMb: number;
  slotsFree: number;
  /** Keyed by warmKey(functionName, revisionId). */
  warm: ReadonlyMap<string, WarmView>;
  /** Instances of each function name, any revision (for warm locality). */
  instancesByFunction: ReadonlyMap<string, number>;
}

/** What is being placed. */
export interface PlacementRequest {
  functionName: string;
  revisionId: string;
  memoryMb: number;
  /** Agents that already refused or failed this invocation. */
  exclude: ReadonlySet<string>;
}

/** A placement decision: run it somewhere, wait for capacity, or give up. */
export type PlacementDecision =
  | { kind: 'dispatch'; agentId: string; address: string; reason: 'warm' | 'room' }
  | { kind: 'wait'; reason: string }
  | { kind: 'reject'; reason: string };

/** Key of a function revision in WarmView maps. */
export function warmKey(functionName: string, revisionId: string): string {
  return `${functionName}#${revisionId}`;
}

function hasRoom(a: AgentView, memoryMb: number): boolean {
  return reclaimableMb(a) >= memoryMb && canStartAny(a);
}

/**
 * The better of two random picks ("power of two choices") among items[from..to): spreads load
 * without herding onto one agent.
 */
function twoChoices<T>(items: readonly T[], better: (a: T, b: T) => boolean, random: () => number, from = 0, to = items.length): T | undefined {
  const n = to - from;
  if (n <= 1) return n === 1 ? items[from] : undefined;
  const i = Math.floor(random() * n);
  let j = Math.floor(random() * (n - 1));
  if (j >= i) j += 1;
  const a = items[from + i] as T;
  const b = items[from + j] as T;
  return better(b, a) ? b : a;
}

/** Memory `a` could give an instance: free, plus what stopping its idle instances frees. */
export function reclaimableMb(a: AgentView): number {
  return a.memoryFreeMb + a.idleMemoryMb;
}

/** True when `a` can take an instance at all, whatever its size: a free slot, or idle instances to stop. */
export function canStartAny(a: AgentView): boolean {
  return a.slotsFree > 0 || a.idleMemoryMb > 0;
}

/**
 * Candidates a cluster view keeps indexed as heartbeats arrive, so a decision looks at the few
 * agents that matter instead of scanning every agent.
 */
export interface PlacementCandidates {
  /** Live agents. */
  readonly size: number;
  /** Agents with at least one idle instance of the revision keyed by warmKey(). */
  idleWarm(key: string): readonly AgentView[];
  /** Agents holding any instance of the function, any revision. */
  running(functionName: string): readonly AgentView[];
  /** Agents for which canStartAny() holds, by free plus idle memory, least first (ties in any order). */
  byRoom(): readonly AgentView[];
}

/** First index in `sorted` (by reclaimable memory, ascending) whose agent can reclaim `memoryMb`. */
function firstWithRoom(sorted: readonly AgentView[], memoryMb: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (reclaimableMb(sorted[mid] as AgentView) >= memoryMb) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * {@link place} over indexed candidates: the same decision rules (warm first, then room with warm
 * locality, the better of two random choices, exclusions, wait and reject), in time that depends
 * on the agents holding the function, not on the size of the cluster.
 */
export function placeAmong(c: PlacementCandidates, req: PlacementRequest, random: () => number = Math.random): PlacementDecision {
  if (c.size === 0) return { kind: 'reject', reason: 'no agents are connected' };
  const key = warmKey(req.functionName, req.revisionId);
  const excluded = (a: AgentView): boolean => req.exclude.has(a.agentId);
  const idle = c.idleWarm(key);
  const warm = req.exclude.size === 0 ? idle : idle.filter((a) => !excluded(a));
  const warmPick = twoChoices(warm, (x, y) => (x.warm.get(key)?.idle ?? 0) > (y.warm.get(key)?.idle ?? 0), random);
  if (warmPick) return { kind: 'dispatch', agentId: warmPick.agentId, address: warmPick.address, reason: 'warm' };
  const freer = (x: AgentView, y: AgentView): boolean => reclaimableMb(x) > reclaimableMb(y);
  const local = c.running(req.functionName).filter((a) => !excluded(a) && hasRoom(a, req.memoryMb));
  let roomPick = twoChoices(local, freer, random);
  if (!roomPick) {
    const sorted = c.byRoom();
    const from = firstWithRoom(sorted, req.memoryMb);
    // Exclusions only follow a refusal: filtering then is the rare path.
    roomPick = req.exclude.size === 0 ? twoChoices(sorted, freer, random, from) : twoChoices(sorted.slice(from).filter((a) => !excluded(a)), freer, random);
  }
  if (roomPick) return { kind: 'dispatch', agentId: roomPick.agentId, address: roomPick.address, reason: 'room' };
  return { kind: 'wait', reason: 'no agent has room for another instance' };
}

/**
 * Chooses an agent: one with an idle warm instance of this exact revision first; then one with
 * room, preferring agents that already run this function (warm locality), the better of two
 * random choices breaking ties. With agents but no room anywhere it says wait.
 */
export function place(agents: readonly AgentView[], req: PlacementRequest, random: () => number = Math.random): PlacementDecision {
  if (agents.length === 0) return { kind: 'reject', reason: 'no agents are connected' };
  const key = warmKey(req.functionName, req.revisionId);
  const warm: AgentView[] = [];
  const local: AgentView[] = [];
  const roomy: AgentView[] = [];
  for (const a of agents) {
    if (req.exclude.has(a.agentId)) continue;
    if ((a.warm.get(key)?.idle ?? 0) > 0) warm.push(a);
    if (!hasRoom(a, req.memoryMb)) continue;
    roomy.push(a);
    if ((a.instancesByFunction.get(req.functionName) ?? 0) > 0) local.push(a);
  }
  const warmPick = twoChoices(warm, (x, y) => (x.warm.get(key)?.idle ?? 0) > (y.warm.get(key)?.idle ?? 0), random);
  if (warmPick) return { kind: 'dispatch', agentId: warmPick.agentId, address: warmPick.address, reason: 'warm' };
  const freer = (x: AgentView, y: AgentView): boolean => x.memoryFreeMb + x.idleMemoryMb > y.memoryFreeMb + y.idleMemoryMb;
  const roomPick = twoChoices(local.length > 0 ? local : roomy, freer, random);
  if (roomPick) return { kind: 'dispatch', agentId: roomPick.agentId, address: roomPick.address, reason: 'room' };
  return { kind: 'wait', reason: 'no agent has room for another instance' };
}
