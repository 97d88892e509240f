import type { AgentHeartbeat } from '../../sdk/platform/heartbeat';
import { PlacementIndex } from './placement-index';
import { placeAmong, warmKey, type AgentView, type PlacementDecision, type PlacementRequest, type WarmView } from './placement';

interface Entry {
  hb: AgentHeartbeat;
  receivedAtMs: number;
  view: MutableAgentView;
}

interface MutableAgentView extends AgentView {
  memoryFreeMb: number;
  idleMemoryMb: number;
  slotsFree: number;
  warm: Map<string, WarmView>;
  instancesByFunction: Map<string, number>;
}

/** Options for {@link ClusterView}. */
export interface ClusterViewOptions {
  /** An agent is dropped after this many of its heartbeat intervals pass in silence. Default 3. */
  missedHeartbeats: number;
  now?: () => number;
}

function toView(hb: AgentHeartbeat): MutableAgentView {
  const warm = new Map<string, WarmView>();
  const instancesByFunction = new Map<string, number>();
  for (const f of hb.functions) {
    warm.set(warmKey(f.functionName, f.revisionId), { idle: f.idle, busy: f.busy, starting: f.starting });
    instancesByFunction.set(f.functionName, (instancesByFunction.get(f.functionName) ?? 0) + f.idle + f.busy + f.starting);
  }
  return {
    agentId: hb.agentId,
    address: hb.address,
    memoryFreeMb: hb.memoryFreeMb,
    idleMemoryMb: hb.idleMemoryMb ?? 0,
    slotsFree: hb.slotsFree,
    warm,
    instancesByFunction,
  };
}

/**
 * The router's picture of the cluster, built from agent heartbeats. Between heartbeats it
 * books this router's own dispatches, so a burst does not send everything to one idle instance.
 */
export class ClusterView {
  private readonly entries = new Map<string, Entry>();
  /** The last heartbeat of each removed agent, so a late, older heartbeat cannot bring it back. */
  private readonly removed = new Map<string, { bootId: string; seq: number }>();
  private readonly waiters = new Set<() => void>();
  private readonly now: () => number;
  /** Kept in step with `entries`, so placement and concurrency do not scan every agent. */
  private readonly index = new PlacementIndex();
  /** No live agent can have expired before this time; until then expiry needs no scan. */
  private nextExpiryMs = Infinity;

  constructor(private readonly options: ClusterViewOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Takes in a heartbeat; stale ones (older seq of the same boot) are ignored. */
  applyHeartbeat(hb: AgentHeartbeat): void {
    const held = this.entries.get(hb.agentId)?.hb ?? this.removed.get(hb.agentId);
    if (held && held.bootId === hb.bootId && held.seq >= hb.seq) return;
    if (hb.state !== 'ready') {
      this.remove(hb.agentId);
      this.removed.set(hb.agentId, { bootId: hb.bootId, seq: hb.seq });
      return;
    }
    this.removed.delete(hb.agentId);
    const previous = this.entries.get(hb.agentId);
    const next = toView(hb);
    let view = next;
    if (previous) {
      // The new picture goes into the view object the index already lists: most of an agent's
      // functions keep their state from one heartbeat to the next, and their lists are not touched.
      view = previous.view;
      this.index.update(view, next);
      Object.assign(view, next);
      this.index.roomChanged(view);
    } else this.index.add(view);
    const entry: Entry = { hb, receivedAtMs: this.now(), view };
    this.entries.set(hb.agentId, entry);
    this.nextExpiryMs = Math.min(this.nextExpiryMs, this.expiryOf(entry));
    this.notify();
  }

  /** Drops an agent at once (it said it is gone, or it cannot be reached). */
  remove(agentId: string): void {
    const held = this.entries.get(agentId);
    if (!held) return;
    this.entries.delete(agentId);
    this.index.delete(held.view);
    this.removed.set(agentId, { bootId: held.hb.bootId, seq: held.hb.seq });
    // Bounded: a long-lived router sees agents come and go for months.
    if (this.removed.size > 10_000) this.removed.delete(this.removed.keys().next().value as string);
    this.notify();
  }

  /** Live agents for placement; agents whose heartbeats stopped are dropped here. */
  agents(): AgentView[] {
    this.expire();
    return [...this.entries.values()].map((e) => e.view);
  }

  /**
   * Places an invocation among the live agents ({@link placeAmong}): the same decision as
   * `place(agents(), req)`, from indexes kept as heartbeats arrive instead of a scan of every agent.
   */
  place(req: PlacementRequest, random: () => number = Math.random): PlacementDecision {
    this.expire();
    return placeAmong(this.index, req, random);
  }

  private expiryOf(e: Entry): number {
    return e.receivedAtMs + e.hb.intervalMs * this.options.missedHeartbeats;
  }

  /** Drops agents whose heartbeats stopped; scans only once the earliest possible expiry has passed. */
  private expire(): void {
    const now = this.now();
    if (now <= this.nextExpiryMs) return;
    let next = Infinity;
    for (const [id, e] of this.entries) {
      const expiry = this.expiryOf(e);
      if (now > expiry) {
        this.entries.delete(id);
        this.index.delete(e.view);
      } else next = Math.min(next, expiry);
    }
    this.nextExpiryMs = next;
  }

  /** Heartbeats of live agents, for the cluster API. */
  heartbeats(): Array<{ hb: AgentHeartbeat; receivedAtMs: number }> {
    this.expire();
    return [...this.entries.values()].map((e) => ({ hb: e.hb, receivedAtMs: e.receivedAtMs }));
  }

  /**
   * Invocations running now (busy or starting instances) in the whole cluster and of one function,
   * as the agents last reported them plus this router's dispatches since.
   */
  concurrency(functionName: string): { total: number; function: number } {
    this.expire();
    return this.index.concurrency(functionName);
  }

  /** Books a dispatch until the agent's next heartbeat tells the truth. */
  noteDispatch(agentId: string, functionName: string, revisionId: string, memoryMb: number, reason: 'warm' | 'room'): void {
    const view = this.entries.get(agentId)?.view;
    if (!view) return;
    const key = warmKey(functionName, revisionId);
    const w = view.warm.get(key) ?? { idle: 0, busy: 0, starting: 0 };
    if (reason === 'warm' && w.idle > 0) {
      view.warm.set(key, { ...w, idle: w.idle - 1, busy: w.busy + 1 });
      view.idleMemoryMb = Math.max(0, view.idleMemoryMb - memoryMb);
      this.index.warmChanged(view, key, w.idle, 1);
      this.index.roomChanged(view);
      return;
    }
    view.warm.set(key, { ...w, starting: w.starting + 1 });
    const instances = view.instancesByFunction.get(functionName) ?? 0;
    view.instancesByFunction.set(functionName, instances + 1);
    view.memoryFreeMb = Math.max(0, view.memoryFreeMb - memoryMb);
    view.slotsFree = Math.max(0, view.slotsFree - 1);
    this.index.warmChanged(view, key, w.idle, 1);
    if (instances === 0) this.index.holderAdded(view, functionName);
    this.index.roomChanged(view);
  }

  /** Resolves at the next change of the view, or after `ms`. */
  waitForChange(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.waiters.add(done);
    });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
