import type { KV } from '@nats-io/kv';
import { viaNats } from '../../sdk/platform/nats-errors';
import { casWrite, isLive, listKeys } from '../../sdk/platform/kv-records';
import { leaseValidUntil } from './lease-policy';

/** What a lease says: who holds it and what its poller last reported. */
export interface LeaseValue {
  holder: string;
  acquiredAtMs: number;
  /** The poller's last processing result ("OK" or what is wrong). */
  status: string;
}

/** A lease this router holds. */
export interface Lease {
  mappingId: string;
  /** KV revision of the last write: the next renewal must find it unchanged. */
  revision: number;
  /** Local time until which the holder may act (see leaseValidUntil). */
  validUntilMs: number;
  acquiredAtMs: number;
}

/** Outcome of a renewal: renewed, or taken by someone else (or expired) in between. */
export type RenewResult = { kind: 'renewed'; lease: Lease } | { kind: 'lost' };

function leaseKey(mappingId: string): string {
  return `lease.${mappingId}`;
}

const ROUTER_PREFIX = 'router.';

/** A router id as a KV key token (a router id may hold characters keys may not). */
export function routerKey(routerId: string): string {
  return routerId.replace(/[^-_=a-zA-Z0-9]/g, '_') || '_';
}

/**
 * Mapping leases in a JetStream KV bucket whose entries expire `ttlMs` after their last write
 * (the bucket's max age, kept by the server, so routers' clocks need not agree). A lease is
 * taken with a create (fails while someone holds it), renewed and released with a compare-and-
 * set on its revision, so at most one router holds it. Routers also announce themselves here
 * (router.<id>), which is how they learn who is alive.
 */
export class LeaseStore {
  constructor(
    private readonly kv: KV,
    /** The bucket's entry lifetime: the lease TTL. */
    readonly ttlMs: number,
  ) {}

  /** Takes a free lease; undefined when another router holds it. */
  async acquire(mappingId: string, value: LeaseValue): Promise<Lease | undefined> {
    const sentAt = Date.now();
    const revision = await casWrite(`taking the lease of mapping ${mappingId}`, () => this.kv.create(leaseKey(mappingId), JSON.stringify(value)));
    if (revision === undefined) return undefined;
    return { mappingId, revision, validUntilMs: leaseValidUntil(sentAt, this.ttlMs), acquiredAtMs: value.acquiredAtMs };
  }

  /** Extends a held lease; `lost` when it expired or another router took it since. */
  async renew(lease: Lease, value: LeaseValue): Promise<RenewResult> {
    const sentAt = Date.now();
    const revision = await casWrite(`renewing the lease of mapping ${lease.mappingId}`, () => this.kv.update(leaseKey(lease.mappingId), JSON.stringify(value), lease.revision));
    if (revision === undefined) return { kind: 'lost' };
    return { kind: 'renewed', lease: { ...lease, revision, validUntilMs: leaseValidUntil(sentAt, this.ttlMs) } };
  }

  /** Gives a lease up so another router can take it at once; a lease already lost is left alone. */
  async release(lease: Lease): Promise<void> {
    // Lost already (undefined): nothing to give up.
    await casWrite(`releasing the lease of mapping ${lease.mappingId}`, () => this.kv.delete(leaseKey(lease.mappingId), { previousSeq: lease.revision }));
  }

  /** Who holds a mapping's lease now, or undefined. */
  async read(mappingId: string): Promise<LeaseValue | undefined> {
    const entry = await viaNats('reading a mapping lease', () => this.kv.get(leaseKey(mappingId)));
    if (!isLive(entry)) return undefined;
    try {
      return entry.json<LeaseValue>();
    } catch {
      return undefined;
    }
  }

  /** Says this router is alive, for another TTL. */
  async announce(routerId: string): Promise<void> {
    await viaNats('announcing this router', () => this.kv.put(`${ROUTER_PREFIX}${routerKey(routerId)}`, JSON.stringify({ atMs: Date.now() })));
  }

  /** Stops saying this router is alive (a clean shutdown). */
  async withdraw(routerId: string): Promise<void> {
    await viaNats('withdrawing this router', () => this.kv.delete(`${ROUTER_PREFIX}${routerKey(routerId)}`));
  }

  /** Routers (as routerKey() names them) that announced themselves within the TTL, sorted. */
  async liveRouters(): Promise<string[]> {
    const keys = await viaNats('listing live routers', () => listKeys(this.kv, `${ROUTER_PREFIX}>`));
    return keys.map((k) => k.slice(ROUTER_PREFIX.length)).sort();
  }
}
