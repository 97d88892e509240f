/**
 * Which router polls which mapping, as plain functions: rendezvous hashing over the routers that
 * are alive gives every mapping one preferred router, so mappings spread over routers and move
 * as few as possible when one comes or goes. Leases (lease-store.ts) make it safe: a router
 * polls only while it holds the mapping's lease, whatever it prefers.
 */
import { createHash } from 'node:crypto';

function score(mappingId: string, routerId: string): bigint {
  return createHash('sha256').update(`${mappingId}\u0000${routerId}`).digest().readBigUInt64BE(0);
}

/** The live router a mapping prefers (highest rendezvous score), or undefined when none is alive. */
export function preferredRouter(mappingId: string, liveRouters: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1n;
  for (const r of liveRouters) {
    const s = score(mappingId, r);
    if (s > bestScore || (s === bestScore && best !== undefined && r < best)) {
      best = r;
      bestScore = s;
    }
  }
  return best;
}

/** Whether a router should try to take a free lease: at once when it is preferred, else after the grace period, so the preferred router gets it first. */
export function shouldAcquire(input: { me: string; preferred: string | undefined; freeSinceMs: number; nowMs: number; graceMs: number }): boolean {
  if (input.preferred === undefined || input.preferred === input.me) return true;
  return input.nowMs - input.freeSinceMs >= input.graceMs;
}

/**
 * The one held mapping to hand back so that it moves to its preferred router (a router that
 * joined), or undefined. Only leases held at least `minHoldMs` move, one per call, so a cluster
 * that changes shape rebalances gradually instead of stalling every mapping at once.
 */
export function pickRebalance(held: ReadonlyArray<{ mappingId: string; heldSinceMs: number }>, liveRouters: readonly string[], me: string, nowMs: number, minHoldMs: number): string | undefined {
  for (const h of held) {
    if (nowMs - h.heldSinceMs < minHoldMs) continue;
    const preferred = preferredRouter(h.mappingId, liveRouters);
    if (preferred !== undefined && preferred !== me) return h.mappingId;
  }
  return undefined;
}

/**
 * Until when (local clock) a holder may act on a lease renewed at `sentAtMs`. The server expires
 * the lease `ttlMs` after it stored the renewal, which is after the holder sent it; stopping a
 * quarter of the TTL earlier leaves room for clock drift and a slow event loop, so a holder stops
 * before another router can take over.
 */
export function leaseValidUntil(sentAtMs: number, ttlMs: number): number {
  return sentAtMs + Math.floor(ttlMs * 0.75);
}
