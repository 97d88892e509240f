import { canStartAny, reclaimableMb, type AgentView, type PlacementCandidates } from './placement';

const NONE: readonly AgentView[] = [];

function functionOfKey(key: string): string {
  // Function names cannot hold '#' (they match [A-Za-z0-9_-]), so the first one ends the name.
  return key.slice(0, key.indexOf('#'));
}

function removeFrom(list: AgentView[], view: AgentView): void {
  const i = list.indexOf(view);
  if (i < 0) return;
  list[i] = list[list.length - 1] as AgentView;
  list.pop();
}

/**
 * Indexes over the agent views of a {@link ClusterView}, kept up to date as heartbeats arrive and
 * dispatches are booked, so placement and the concurrency check cost little on every invocation
 * with hundreds of agents and thousands of functions:
 * agents with an idle instance per function revision, agents holding each function, agents able to
 * start an instance sorted by free plus idle memory, and running invocations per function.
 *
 * The views are the cluster view's own objects: whoever changes one must tell the index, through
 * {@link add}/{@link delete} around a replacement or the `…Changed` methods after a booking.
 */
export class PlacementIndex implements PlacementCandidates {
  private readonly views = new Set<AgentView>();
  private readonly idle = new Map<string, AgentView[]>();
  private readonly holders = new Map<string, AgentView[]>();
  private readonly sorted: AgentView[] = [];
  private readonly runningByFunction = new Map<string, number>();
  private runningTotal = 0;

  /** Live agents indexed. */
  get size(): number {
    return this.views.size;
  }

  idleWarm(key: string): readonly AgentView[] {
    return this.idle.get(key) ?? NONE;
  }

  running(functionName: string): readonly AgentView[] {
    return this.holders.get(functionName) ?? NONE;
  }

  byRoom(): readonly AgentView[] {
    return this.sorted;
  }

  /** Busy plus starting instances in the cluster and of one function. */
  concurrency(functionName: string): { total: number; function: number } {
    return { total: this.runningTotal, function: this.runningByFunction.get(functionName) ?? 0 };
  }

  /** Indexes a new view. */
  add(view: AgentView): void {
    if (this.views.has(view)) return;
    this.views.add(view);
    for (const [key, w] of view.warm) {
      if (w.idle > 0) this.listOf(this.idle, key).push(view);
      this.countRunning(functionOfKey(key), w.busy + w.starting);
    }
    for (const [fn, n] of view.instancesByFunction) if (n > 0) this.listOf(this.holders, fn).push(view);
    this.insertSorted(view);
  }

  /** Forgets a view (replaced by a newer heartbeat, or its agent left). */
  delete(view: AgentView): void {
    if (!this.views.delete(view)) return;
    for (const [key, w] of view.warm) {
      if (w.idle > 0) this.removeListed(this.idle, key, view);
      this.countRunning(functionOfKey(key), -(w.busy + w.starting));
    }
    for (const [fn, n] of view.instancesByFunction) if (n > 0) this.removeListed(this.holders, fn, view);
    this.removeSorted(view);
  }

  /**
   * An agent's new heartbeat: moves the index from what `view` holds now to what `next` holds,
   * touching only the lists whose membership changes. The caller then copies `next` into `view`
   * (keeping the object the lists refer to) and calls {@link roomChanged}.
   */
  update(view: AgentView, next: AgentView): void {
    if (!this.views.has(view)) return;
    for (const [key, w] of view.warm) {
      if (next.warm.has(key)) continue;
      if (w.idle > 0) this.removeListed(this.idle, key, view);
      this.countRunning(functionOfKey(key), -(w.busy + w.starting));
    }
    for (const [key, w] of next.warm) {
      const before = view.warm.get(key);
      const wasIdle = (before?.idle ?? 0) > 0;
      if (wasIdle && w.idle === 0) this.removeListed(this.idle, key, view);
      else if (!wasIdle && w.idle > 0) this.listOf(this.idle, key).push(view);
      this.countRunning(functionOfKey(key), w.busy + w.starting - (before ? before.busy + before.starting : 0));
    }
    for (const [fn, n] of view.instancesByFunction) if (n > 0 && !((next.instancesByFunction.get(fn) ?? 0) > 0)) this.removeListed(this.holders, fn, view);
    for (const [fn, n] of next.instancesByFunction) if (n > 0 && !((view.instancesByFunction.get(fn) ?? 0) > 0)) this.listOf(this.holders, fn).push(view);
  }

  /** A booking changed the idle count of `key` on `view` from `before`, and its running count by `runningDelta`. */
  warmChanged(view: AgentView, key: string, idleBefore: number, runningDelta: number): void {
    const idleNow = view.warm.get(key)?.idle ?? 0;
    if (idleBefore > 0 && idleNow === 0) this.removeListed(this.idle, key, view);
    else if (idleBefore === 0 && idleNow > 0) this.listOf(this.idle, key).push(view);
    this.countRunning(functionOfKey(key), runningDelta);
  }

  /** A booking gave `view` its first instance of `functionName`. */
  holderAdded(view: AgentView, functionName: string): void {
    this.listOf(this.holders, functionName).push(view);
  }

  /** A booking changed the memory or slots of `view`. */
  roomChanged(view: AgentView): void {
    this.removeSorted(view);
    this.insertSorted(view);
  }

  private removeSorted(view: AgentView): void {
    const i = this.sorted.indexOf(view);
    if (i >= 0) this.sorted.splice(i, 1);
  }

  private insertSorted(view: AgentView): void {
    if (!canStartAny(view)) return;
    const r = reclaimableMb(view);
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (reclaimableMb(this.sorted[mid] as AgentView) < r) lo = mid + 1;
      else hi = mid;
    }
    this.sorted.splice(lo, 0, view);
  }

  private countRunning(functionName: string, delta: number): void {
    if (delta === 0) return;
    this.runningTotal += delta;
    const n = (this.runningByFunction.get(functionName) ?? 0) + delta;
    if (n === 0) this.runningByFunction.delete(functionName);
    else this.runningByFunction.set(functionName, n);
  }

  private listOf(map: Map<string, AgentView[]>, key: string): AgentView[] {
    let list = map.get(key);
    if (!list) map.set(key, (list = []));
    return list;
  }

  private removeListed(map: Map<string, AgentView[]>, key: string, view: AgentView): void {
    const list = map.get(key);
    if (!list) return;
    removeFrom(list, view);
    if (list.length === 0) map.delete(key);
  }
}
