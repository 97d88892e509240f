import { randomUUID } from 'node:crypto';
import type { FunctionRecord } from '../../sdk/core/function-config';
import type { WarmCount } from '../../sdk/platform/heartbeat';
import type { Logger } from '../../sdk/platform/logger';
import { Instance, type LogSink } from './instance';
import type { PrestartPool, Standby } from './prestart-pool';

/** Options for {@link InstancePool}. */
export interface InstancePoolOptions {
  /** Memory the agent may give to instances, in MB. */
  memoryMb: number;
  /** Most instances alive at once. */
  maxInstances: number;
  /**
   * Disk the agent may give to instances' /tmp, in MB, when /tmp is on disk (each instance books its
   * ephemeral storage). Undefined: /tmp is memory (a tmpfs), and only memory is booked.
   */
  diskMb?: number;
  /** An instance idle this long is stopped. */
  idleTimeoutMs: number;
  memoryCheckMs: number;
  logSink: LogSink;
  /** The agent's logger; instances and discarded pre-started runtimes report failures to stop here. */
  logger: Logger;
  /** Called whenever instance counts change, so the agent can advertise at once. */
  onChange: () => void;
  /**
   * Pre-started runtimes. They count against memory and slots here and are reclaimed before any
   * idle instance; the heartbeat advertises their room as free, since taking it costs nothing.
   * Default: none.
   */
  standbys?: Pick<PrestartPool, 'take' | 'giveBack' | 'bookedMemoryMb' | 'bookedDiskMb' | 'count' | 'reclaim'>;
}

/** The pool's key for instances that may serve each other's invocations. */
export function revisionKey(record: FunctionRecord): string {
  return `${record.config.name}#${record.revisionId}`;
}

/**
 * The agent's instances and its capacity. Decisions here are synchronous, so two concurrent
 * invocations can never take the same idle instance or the same free memory.
 */
export class InstancePool {
  private readonly byId = new Map<string, Instance>();
  private readonly byKey = new Map<string, Set<Instance>>();
  /** Pre-started runtimes taken for new instances, until the agent claims them. */
  private readonly standbyOf = new Map<string, Standby>();
  private readonly reaper: NodeJS.Timeout;

  constructor(private readonly options: InstancePoolOptions) {
    this.reaper = setInterval(() => this.stopIdle(), Math.max(50, Math.min(1000, options.idleTimeoutMs / 4)));
    this.reaper.unref();
  }

  /** Takes an idle instance of this revision (most recently used first, to keep others idle long enough to be reaped). */
  takeIdle(record: FunctionRecord): Instance | undefined {
    let best: Instance | undefined;
    for (const instance of this.byKey.get(revisionKey(record)) ?? []) {
      if (instance.state === 'idle' && (!best || instance.lastUsedMs > best.lastUsedMs)) best = instance;
    }
    if (best) {
      best.reserve();
      this.options.onChange();
    }
    return best;
  }

  /**
   * Registers a new instance of `record` if there is room, stopping least recently used idle
   * instances of other functions to make it; undefined when there is no room.
   */
  admit(record: FunctionRecord): Instance | undefined {
    const need = record.config.memoryMb;
    const standbys = this.options.standbys;
    // Taken first, so that making room never reclaims the very runtime this instance will use.
    const standby = standbys?.take(record);
    while (
      this.usedMemoryMb() + (standbys?.bookedMemoryMb() ?? 0) + need > this.options.memoryMb ||
      !this.diskFits(record.config.ephemeralStorageMb) ||
      this.byId.size + (standbys?.count() ?? 0) >= this.options.maxInstances
    ) {
      if (standbys?.reclaim()) continue;
      const victim = this.oldestIdle();
      if (!victim) {
        if (standby) standbys?.giveBack(standby);
        return undefined;
      }
      this.remove(victim);
    }
    const instance = new Instance({
      id: randomUUID(),
      record,
      logSink: this.options.logSink,
      memoryCheckMs: this.options.memoryCheckMs,
      logger: this.options.logger,
      onExit: (i) => this.remove(i),
      // Placement only learns an instance went idle from a heartbeat; without this it waits a full interval.
      onStateChange: () => this.options.onChange(),
    });
    this.byId.set(instance.id, instance);
    const key = revisionKey(record);
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(instance);
    if (standby) this.standbyOf.set(instance.id, standby);
    this.options.onChange();
    return instance;
  }

  /** The pre-started runtime taken for `instance` when it was admitted, once; the caller now owns it. */
  claimStandby(instance: Instance): Standby | undefined {
    const standby = this.standbyOf.get(instance.id);
    this.standbyOf.delete(instance.id);
    return standby;
  }

  /** Whether one more pre-started runtime of `memoryMb` (and a /tmp of `diskMb`) fits besides the instances and the runtimes already waiting. */
  hasRoomForStandby(memoryMb: number, diskMb = 0): boolean {
    const standbys = this.options.standbys;
    return (
      this.usedMemoryMb() + (standbys?.bookedMemoryMb() ?? 0) + memoryMb <= this.options.memoryMb &&
      this.diskFits(diskMb) &&
      this.byId.size + (standbys?.count() ?? 0) < this.options.maxInstances
    );
  }

  /** Stops an instance and forgets it. Safe to call more than once. */
  remove(instance: Instance): void {
    if (!this.byId.delete(instance.id)) return;
    const key = revisionKey(instance.record);
    const set = this.byKey.get(key);
    set?.delete(instance);
    if (set?.size === 0) this.byKey.delete(key);
    const standby = this.standbyOf.get(instance.id);
    this.standbyOf.delete(instance.id);
    if (standby) {
      standby.discard().catch((err: unknown) => this.options.logger.warn('could not stop a pre-started runtime', { runtime: standby.runtime, error: (err as Error).message }));
    }
    instance.terminate();
    this.options.onChange();
  }

  /** Whether any live instance runs code with this digest. */
  usesCode(sha256: string): boolean {
    for (const instance of this.byId.values()) if (instance.record.code.sha256 === sha256) return true;
    return false;
  }

  /** Counts for the heartbeat. */
  snapshot(): { memoryFreeMb: number; idleMemoryMb: number; slotsFree: number; diskFreeMb?: number; functions: WarmCount[] } {
    let idleMemoryMb = 0;
    const functions: WarmCount[] = [];
    for (const set of this.byKey.values()) {
      const first = set.values().next().value as Instance | undefined;
      if (!first) continue;
      const count: WarmCount = { functionName: first.record.config.name, revisionId: first.record.revisionId, idle: 0, busy: 0, starting: 0 };
      for (const i of set) {
        if (i.state === 'idle') {
          count.idle += 1;
          idleMemoryMb += i.record.config.memoryMb;
        }
        else if (i.state === 'busy') count.busy += 1;
        else if (i.state === 'starting') count.starting += 1;
      }
      functions.push(count);
    }
    return {
      memoryFreeMb: Math.max(0, this.options.memoryMb - this.usedMemoryMb()),
      idleMemoryMb,
      slotsFree: Math.max(0, this.options.maxInstances - this.byId.size),
      ...(this.options.diskMb === undefined ? {} : { diskFreeMb: Math.max(0, this.options.diskMb - this.usedDiskMb() - (this.options.standbys?.bookedDiskMb() ?? 0)) }),
      functions,
    };
  }

  /** Number of invocations running now. */
  busyCount(): number {
    let n = 0;
    for (const i of this.byId.values()) if (i.state === 'busy' || i.state === 'starting') n += 1;
    return n;
  }

  /** Stops every instance and waits for the processes to be gone. */
  async close(): Promise<void> {
    clearInterval(this.reaper);
    const all = [...this.byId.values()];
    for (const i of all) this.remove(i);
    await Promise.all(all.map((i) => i.stop()));
  }

  /** Whether instances' /tmp disk is booked here (it is on disk, not memory). */
  get tracksDisk(): boolean {
    return this.options.diskMb !== undefined;
  }

  /** Whether `need` MB more of /tmp disk fits (always, when /tmp is not on disk). */
  private diskFits(need: number): boolean {
    if (this.options.diskMb === undefined) return true;
    return this.usedDiskMb() + (this.options.standbys?.bookedDiskMb() ?? 0) + need <= this.options.diskMb;
  }

  private usedDiskMb(): number {
    let used = 0;
    for (const i of this.byId.values()) used += i.record.config.ephemeralStorageMb;
    return used;
  }

  private usedMemoryMb(): number {
    let used = 0;
    for (const i of this.byId.values()) used += i.record.config.memoryMb;
    return used;
  }

  private oldestIdle(): Instance | undefined {
    let oldest: Instance | undefined;
    for (const i of this.byId.values()) if (i.state === 'idle' && (!oldest || i.lastUsedMs < oldest.lastUsedMs)) oldest = i;
    return oldest;
  }

  private stopIdle(): void {
    const cutoff = Date.now() - this.options.idleTimeoutMs;
    for (const i of [...this.byId.values()]) if (i.state === 'idle' && i.lastUsedMs < cutoff) this.remove(i);
  }
}
