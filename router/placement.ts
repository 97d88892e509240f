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
  const reclaimable = a.memoryFreeMb + a.idleMemoryMb;
  return reclaimable >= memoryMb && (a.slotsFree > 0 || a.idleMemoryMb > 0);
}

/** The better of two random picks ("power of two choices"): spreads load without herding onto one agent. */
function twoChoices<T>(items: readonly T[], better: (a: T, b: T) => boolean, random: () => number): T | undefined {
  if (items.length <= 1) return items[0];
  const i = Math.floor(random() * items.length);
  let j = Math.floor(random() * (items.length - 1));
  if (j >= i) j += 1;
  const a = items[i] as T;
  const b = items[j] as T;
  return better(b, a) ? b : a;
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
