import type { RouterHeartbeat } from './router-heartbeat';

/** Options for {@link RouterView}. */
export interface RouterViewOptions {
  /** A router is dropped after this many of its heartbeat intervals pass in silence. Default 3. */
  missedHeartbeats: number;
  /** Most routers remembered; a heartbeat from one more is ignored (and counted). Default 256. */
  maxRouters: number;
  now?: () => number;
}

/** One router as the cluster API reports it. */
export interface RouterEntry {
  hb: RouterHeartbeat;
  receivedAtMs: number;
}

/**
 * The routers this router knows of, from their heartbeats (its own included, as it hears itself).
 * Pure bookkeeping: routers are never contacted, only listed for operators and `stratus cluster`.
 */
export class RouterView {
  private readonly entries = new Map<string, RouterEntry>();
  private readonly now: () => number;
  /** Heartbeats ignored because maxRouters was reached. */
  dropped = 0;

  constructor(private readonly options: RouterViewOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Takes in a heartbeat; an older one of the same boot is ignored; "stopping" drops the router. */
  apply(hb: RouterHeartbeat): void {
    const held = this.entries.get(hb.routerId)?.hb;
    if (held && held.bootId === hb.bootId && held.seq >= hb.seq) return;
    if (hb.state === 'stopping') {
      this.entries.delete(hb.routerId);
      return;
    }
    this.expire();
    if (!held && this.entries.size >= this.options.maxRouters) {
      this.dropped += 1;
      return;
    }
    this.entries.set(hb.routerId, { hb, receivedAtMs: this.now() });
  }

  /** Live routers, sorted by id; silent ones are dropped here. */
  routers(): RouterEntry[] {
    this.expire();
    return [...this.entries.values()].sort((a, b) => a.hb.routerId.localeCompare(b.hb.routerId));
  }

  private expire(): void {
    const now = this.now();
    for (const [id, e] of this.entries) {
      if (now - e.receivedAtMs > e.hb.intervalMs * this.options.missedHeartbeats) this.entries.delete(id);
    }
  }
}
