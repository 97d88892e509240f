import { toStratusError } from '../../sdk/core/errors';
import type { Logger } from '../../sdk/platform/logger';
import type { MappingRecord } from '../../sdk/core/mapping-config';
import type { KvMirror } from '../../sdk/platform/kv-mirror';
import { pickRebalance, preferredRouter, shouldAcquire } from './lease-policy';
import { routerKey, type Lease, type LeaseStore } from './lease-store';
import type { StoredMapping } from './mapping-registry';
import type { ProgressHint } from './progress-hint';

/** What the supervisor needs of a poller. */
export interface SupervisedPoller {
  readonly status: string;
  /** What it finished past the checkpoint, written with each lease renewal. */
  progress(): ProgressHint | undefined;
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
  /** Stores a poller's progress hint (best effort). */
  saveProgress: (mappingId: string, hint: ProgressHint) => Promise<void>;
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
  /** A renewal in flight: a release waits for it, so it compares against the latest revision. */
  renewing: Promise<void> | undefined;
  /** Being released: no more renewals. */
  releasing: boolean;
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
  /** Taking leases; false once stopping (leases held are still renewed until their pollers stop). */
  private running = false;
  private tickingEnabled = false;
  private stopping: Promise<void> | undefined;
  private lastRebalanceMs = 0;

  /** This router as the leases bucket names it. */
  private readonly me: string;

  constructor(
    private readonly deps: SupervisorDeps,
    private readonly options: SupervisorOptions,
  ) {
    this.me = routerKey(options.routerId);
  }

  /** Starts ticking. */
  start(): void {
    this.running = true;
    this.tickingEnabled = true;
    this.poke();
    this.timer = setInterval(() => this.poke(), this.options.tickMs);
    this.timer.unref();
  }

  /** Runs a tick soon (a mapping changed). */
  poke(): void {
    if (!this.tickingEnabled) return;
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
      await this.ticking;
      // Ticks go on renewing the leases until every poller stopped: no router takes a mapping over while its batches still run here.
      await Promise.all([...this.held.keys()].map((id) => this.drop(id, graceMs)));
      this.tickingEnabled = false;
      clearInterval(this.timer);
      await this.ticking;
      await this.deps.leases.withdraw(this.me).catch(() => undefined);
    })();
    return this.stopping;
  }

  private async tick(): Promise<void> {
    const { leases, logger } = this.deps;
    const me = this.me;
    if (this.running) await leases.announce(me);
    await Promise.all([...this.held.entries()].map(([id, h]) => this.renew(id, h)));
    if (!this.running || !this.deps.mappings.healthy) return;
    const live = await leases.liveRouters();
    if (!live.includes(me)) live.push(me);
    const now = Date.now();
    const mappings = new Map(this.deps.mappings.values().map((m) => [m.record.id, m] as const));
    for (const [id, h] of [...this.held.entries()]) {
      if (h.busy) continue;
      const m = mappings.get(id) ?? (await this.deps.readMapping(id));
      if (!m || !m.record.settings.enabled) {
        logger.info('mapping no longer runs here', { mapping: id, reason: m ? 'disabled' : 'deleted' });
        this.drop(id, this.options.stopGraceMs, !m).catch((err: unknown) => logger.warn('mapping poller did not stop cleanly; its lease expires by itself', { mapping: id, err: toStratusError(err) }));
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
      const lease = await leases.acquire(id, { holder: this.options.routerId, acquiredAtMs: now, status: 'Starting' });
      if (!lease) continue;
      this.freeSince.delete(id);
      logger.info('mapping lease taken', { mapping: id });
      this.held.set(id, { lease, record: m.record, revision: m.revision, poller: this.startPoller(m.record, id), busy: undefined, dropping: false, renewing: undefined, releasing: false });
    }
    for (const id of this.freeSince.keys()) if (!mappings.has(id)) this.freeSince.delete(id);
    if (this.options.rebalance && now - this.lastRebalanceMs >= this.options.minHoldMs) {
      const settled = [...this.held.values()].filter((h) => !h.busy);
      const give = pickRebalance(settled.map((h) => ({ mappingId: h.lease.mappingId, heldSinceMs: h.lease.acquiredAtMs })), live, me, now, this.options.minHoldMs);
      if (give) {
        this.lastRebalanceMs = now;
        logger.info('mapping handed to its preferred router', { mapping: give, to: preferredRouter(give, live) });
        this.drop(give, this.options.stopGraceMs).catch((err: unknown) => logger.warn('mapping poller did not stop cleanly; its lease expires by itself', { mapping: give, err: toStratusError(err) }));
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

  private renew(id: string, h: Held): Promise<void> {
    if (h.releasing) return Promise.resolve();
    const p = this.renewOnce(id, h).finally(() => {
      if (h.renewing === p) h.renewing = undefined;
    });
    h.renewing = p;
    return p;
  }

  private async renewOnce(id: string, h: Held): Promise<void> {
    try {
      const r = await this.deps.leases.renew(h.lease, { holder: this.options.routerId, acquiredAtMs: h.lease.acquiredAtMs, status: h.poller.status });
      if (r.kind === 'renewed') {
        h.lease = r.lease;
        const hint = h.poller.progress();
        if (hint) await this.deps.saveProgress(id, hint).catch((err: unknown) => this.deps.logger.debug('mapping progress not stored', { mapping: id, err: toStratusError(err) }));
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

  /** Writes what a stopped poller finished, so the next poller (here or elsewhere) runs none of it again. */
  private async saveFinalProgress(id: string, h: Held): Promise<void> {
    const hint = h.poller.progress();
    if (hint) await this.deps.saveProgress(id, hint).catch((err: unknown) => this.deps.logger.debug('mapping progress not stored', { mapping: id, err: toStratusError(err) }));
  }

  /** Stops the old poller (letting its batches finish), then starts one with the new settings; the lease stays held. */
  private restart(id: string, h: Held, m: StoredMapping): void {
    const p: Promise<void> = (async () => {
      await h.poller.stop(this.options.stopGraceMs);
      await this.saveFinalProgress(id, h);
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
      if (!deleted) await this.saveFinalProgress(id, h);
      if (this.held.get(id) === h) this.held.delete(id);
      h.releasing = true;
      await h.renewing;
      if (deleted) await this.deps.cleanUp(h.record).catch((err: unknown) => this.deps.logger.warn('a deleted mapping\'s checkpoint was not removed', { mapping: id, err: toStratusError(err) }));
      await this.deps.leases.release(h.lease).catch((err: unknown) => this.deps.logger.warn('mapping lease not released; it expires by itself', { mapping: id, err: toStratusError(err) }));
    })();
    return h.busy;
  }
}
