import { toStratusError } from '../../sdk/core/errors';
import type { Logger } from '../../sdk/core/logger';
import type { MappingRecord } from '../../sdk/core/mapping-config';
import type { KvMirror } from '../kv-mirror';
import { pickRebalance, preferredRouter, shouldAcquire } from './lease-policy';
import type { Lease, LeaseStore } from './lease-store';
import type { StoredMapping } from './mapping-registry';

/** What the supervisor needs of a poller. */
export interface SupervisedPoller {
  readonly status: string;
  readonly active: boolean;
  start(): void;
  stop(graceMs: number): Promise<void>;
  kill(): void;
}

/** Dependencies of {@link MappingSupervisor}. */
export interface SupervisorDeps {
  /** Every mapping, mirrored from the registry. */
  mappings: Pick<KvMirror<StoredMapping>, 'values' | 'get' | 'healthy'>;
  /** Reads one mapping from the store (to confirm one the mirror no longer shows). */
  readMapping: (id: string) => Promise<StoredMapping | undefined>;
  leases: LeaseStore;
  createPoller: (mapping: MappingRecord, leaseValid: () => boolean) => SupervisedPoller;
  /** Deletes what a deleted mapping left (its checkpoint), once its poller here has stopped. */
  cleanUp: (mapping: MappingRecord) => Promise<void>;
  logger: Logger;
}

/** Options for {@link MappingSupervisor}. */
export interface SupervisorOptions {
  routerId: string;
  /** How often leases are renewed and free ones looked for: a third of the lease TTL. */
  tickMs: number;
  /** How long a free lease waits for its preferred router before any router takes it. */
  takeoverGraceMs: number;
  rebalance: boolean;
  /** A lease is handed back to its preferred router only after being held this long. */
  minHoldMs: number;
  /** How long a stopping poller may finish running batches. */
  stopGraceMs: number;
}

interface Held {
  lease: Lease;
  record: MappingRecord;
  poller: SupervisedPoller;
  revision: number;
  /** A restart or a drop in progress: the tick leaves the mapping alone meanwhile (its lease is still renewed). */
  busy: Promise<void> | undefined;
  dropping: boolean;
}

/**
 * Spreads mapping polling over routers with leases (lease-store.ts): on every tick it says this
 * router is alive, renews the leases it holds (stopping a poller at once when its lease was lost),
 * follows mapping changes (restart on update, stop on disable or delete), and takes free leases —
 * at once for mappings that prefer this router, after a grace period for the others, so a dead
 * router's mappings move within about a lease TTL. Only the lease holder polls a mapping, so
 * per-key order holds across routers.
 */
export class MappingSupervisor {
  private readonly held = new Map<string, Held>();
  private readonly freeSince = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private running = false;
  private stopping: Promise<void> | undefined;
  private lastRebalanceMs = 0;

  constructor(
    private readonly deps: SupervisorDeps,
    private readonly options: SupervisorOptions,
  ) {}

  /** Starts ticking. */
  start(): void {
    this.running = true;
    this.poke();
    this.timer = setInterval(() => this.poke(), this.options.tickMs);
    this.timer.unref();
  }

  /** Runs a tick soon (a mapping changed). */
  poke(): void {
    if (!this.running) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((err: unknown) => this.deps.logger.warn('mapping supervision tick failed', { err: toStratusError(err) }))
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  /** The router polling a mapping, as this router knows it: itself, or undefined. */
  holds(mappingId: string): boolean {
    return this.held.has(mappingId);
  }

  /** The local poller's last processing result, when this router polls the mapping. */
  status(mappingId: string): string | undefined {
    return this.held.get(mappingId)?.poller.status;
  }

  /** Stops every poller (letting running batches finish) and releases the leases so other routers take over at once. Runs once. */
  stop(graceMs: number): Promise<void> {
    this.stopping ??= (async () => {
      this.running = false;
      clearInterval(this.timer);
      await this.ticking;
      await Promise.all([...this.held.keys()].map((id) => this.drop(id, graceMs)));
      await this.deps.leases.withdraw(this.options.routerId).catch(() => undefined);
    })();
    return this.stopping;
  }

  private async tick(): Promise<void> {
    const { leases, logger } = this.deps;
    const me = this.options.routerId;
    await leases.announce(me);
    await Promise.all([...this.held.entries()].map(([id, h]) => this.renew(id, h)));
    if (!this.deps.mappings.healthy) return;
    const live = await leases.liveRouters();
    if (!live.includes(me)) live.push(me);
    const now = Date.now();
    const mappings = new Map(this.deps.mappings.values().map((m) => [m.record.id, m] as const));
    for (const [id, h] of [...this.held.entries()]) {
      if (h.busy) continue;
      const m = mappings.get(id) ?? (await this.deps.readMapping(id));
      if (!m || !m.record.settings.enabled) {
        logger.info('mapping no longer runs here', { mapping: id, reason: m ? 'disabled' : 'deleted' });
        void this.drop(id, this.options.stopGraceMs, !m);
      } else if (m.revision !== h.revision) {
        logger.info('mapping changed; restarting its poller', { mapping: id });
        this.restart(id, h, m);
      } else if (!h.poller.active) {
        h.poller = this.startPoller(m.record, id);
      }
    }
    for (const m of mappings.values()) {
      const id = m.record.id;
      if (this.held.has(id) || !m.record.settings.enabled || !this.running) continue;
      const holder = await leases.read(id);
      if (holder) {
        this.freeSince.delete(id);
        continue;
      }
      const since = this.freeSince.get(id) ?? now;
      this.freeSince.set(id, since);
      if (!shouldAcquire({ me, preferred: preferredRouter(id, live), freeSinceMs: since, nowMs: now, graceMs: this.options.takeoverGraceMs })) continue;
      const lease = await leases.acquire(id, { holder: me, acquiredAtMs: now, status: 'Starting' });
      if (!lease) continue;
      this.freeSince.delete(id);
      logger.info('mapping lease taken', { mapping: id });
      this.held.set(id, { lease, record: m.record, revision: m.revision, poller: this.startPoller(m.record, id), busy: undefined, dropping: false });
    }
    for (const id of this.freeSince.keys()) if (!mappings.has(id)) this.freeSince.delete(id);
    if (this.options.rebalance && now - this.lastRebalanceMs >= this.options.minHoldMs) {
      const settled = [...this.held.values()].filter((h) => !h.busy);
      const give = pickRebalance(settled.map((h) => ({ mappingId: h.lease.mappingId, heldSinceMs: h.lease.acquiredAtMs })), live, me, now, this.options.minHoldMs);
      if (give) {
        this.lastRebalanceMs = now;
        logger.info('mapping handed to its preferred router', { mapping: give, to: preferredRouter(give, live) });
        void this.drop(give, this.options.stopGraceMs);
      }
    }
  }

  private startPoller(record: MappingRecord, id: string): SupervisedPoller {
    const poller = this.deps.createPoller(record, () => {
      const h = this.held.get(id);
      return h !== undefined && Date.now() < h.lease.validUntilMs;
    });
    poller.start();
    return poller;
  }

  private async renew(id: string, h: Held): Promise<void> {
    try {
      const r = await this.deps.leases.renew(h.lease, { holder: this.options.routerId, acquiredAtMs: h.lease.acquiredAtMs, status: h.poller.status });
      if (r.kind === 'renewed') {
        h.lease = r.lease;
        return;
      }
      this.deps.logger.warn('mapping lease lost; stopping its poller at once', { mapping: id });
    } catch (err) {
      // NATS trouble: keep polling while the lease is still valid here, and try again next tick.
      if (Date.now() < h.lease.validUntilMs) return;
      this.deps.logger.warn('mapping lease could not be renewed in time; stopping its poller', { mapping: id, err: toStratusError(err) });
    }
    h.poller.kill();
    this.held.delete(id);
  }

  /** Stops the old poller (letting its batches finish), then starts one with the new settings; the lease stays held. */
  private restart(id: string, h: Held, m: StoredMapping): void {
    const p: Promise<void> = (async () => {
      await h.poller.stop(this.options.stopGraceMs);
      if (this.held.get(id) !== h || h.dropping || !this.running) return;
      h.revision = m.revision;
      h.record = m.record;
      h.poller = this.startPoller(m.record, id);
    })()
      .catch((err: unknown) => this.deps.logger.warn('mapping poller restart failed', { mapping: id, err: toStratusError(err) }))
      .finally(() => {
        if (h.busy === p) h.busy = undefined;
      });
    h.busy = p;
  }

  /**
   * Stops a poller (waiting up to `graceMs` for running batches) and then releases its lease.
   * The lease is renewed until then, so no other router starts while this one still runs batches.
   */
  private drop(id: string, graceMs: number, deleted = false): Promise<void> {
    const h = this.held.get(id);
    if (!h) return Promise.resolve();
    if (h.dropping && h.busy) return h.busy;
    h.dropping = true;
    const before = h.busy ?? Promise.resolve();
    h.busy = (async () => {
      await before;
      await h.poller.stop(graceMs);
      if (this.held.get(id) === h) this.held.delete(id);
      if (deleted) await this.deps.cleanUp(h.record).catch((err: unknown) => this.deps.logger.warn('a deleted mapping\'s checkpoint was not removed', { mapping: id, err: toStratusError(err) }));
      await this.deps.leases.release(h.lease).catch((err: unknown) => this.deps.logger.warn('mapping lease not released; it expires by itself', { mapping: id, err: toStratusError(err) }));
    })();
    return h.busy;
  }
}
