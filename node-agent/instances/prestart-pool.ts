import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import * as path from 'node:path';
import type { FunctionRecord } from '../../sdk/core/function-config';
import type { Logger } from '../../sdk/platform/logger';
import { nodeHeapMb, planStandbyLaunch, standbyMismatch, STANDBY_FD, type StandbyRuntime } from './runtime-launch';
import type { StandbySandbox, StandbySpec } from '../sandbox/instance-sandbox';

/** Options for {@link PrestartPool}. */
export interface PrestartPoolOptions {
  /** Pre-started runtimes kept ready per runtime; 0 turns that runtime's pool off. */
  counts: Record<StandbyRuntime, number>;
  /** Makes the sandboxes (the bwrap provider's createStandby). */
  createSandbox: (spec: StandbySpec) => Promise<StandbySandbox>;
  runtimesDir: string;
  /** Host folder for the per-sandbox /var/task and /opt folders (one sub-folder per pre-started runtime). */
  slotRoot: string;
  nodeBinary: string;
  pythonBinary: string;
  /** Memory each waiting runtime is booked for (its cgroup limit until assigned), and the first nodejs heap size. Default function memory. */
  memoryMb: number;
  /** /tmp size the pre-started sandboxes get; only functions with this size take them. */
  ephemeralStorageMb: number;
  /** Whether the agent has room for one more process of `memoryMb` besides its instances and the waiting runtimes. */
  hasRoom: (memoryMb: number, diskMb: number) => boolean;
  /** A runtime not ready this long after its spawn is stopped and counted as a failed start. */
  startTimeoutMs: number;
  logger: Logger;
}

/** Consecutive failed starts after which a runtime's pool pauses refilling. */
const MAX_FAILED_STARTS = 3;
/** How long a paused runtime's pool waits before it tries one more start (the cause may have passed). */
const FAILED_STARTS_PAUSE_MS = 60_000;
/** How often the pool looks for room to refill (room appears when instances stop). */
const REFILL_CHECK_MS = 1000;
/**
 * A refill after a take waits this long: spawning blocks the agent's event loop for a moment and
 * competes for the CPU with the cold start that just took a runtime (its first invocation).
 */
const REFILL_AFTER_TAKE_MS = 100;

/** Where a pre-started runtime is in its life. */
export type StandbyState = 'starting' | 'ready' | 'taken' | 'gone';

/**
 * One runtime process started in its own sandbox with no function: it has done its start-up and
 * waits on {@link STANDBY_FD} for the one assignment it will ever get.
 */
export class Standby {
  readonly id = randomUUID();
  state: StandbyState = 'starting';
  child: ChildProcess | undefined;
  sandbox: StandbySandbox | undefined;
  private channel: Socket | undefined;

  constructor(
    readonly runtime: StandbyRuntime,
    /** The memory it is booked for; a nodejs runtime's V8 heap was sized for it. */
    readonly memoryMb: number,
  ) {}

  /** Whether its process is still running. */
  alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Whether an instance of `record` may take it: same runtime and, for nodejs, the heap its memory size gets. */
  fits(record: FunctionRecord): boolean {
    if (record.runtime !== this.runtime) return false;
    return this.runtime !== 'nodejs' || nodeHeapMb(record.config.memoryMb) === nodeHeapMb(this.memoryMb);
  }

  /**
   * Hands the runtime its function's whole environment; it applies it, then loads the code. A
   * nodejs runtime keeps the connection as its Runtime API frame channel (no connect, no HTTP
   * upgrade in its init): then it is returned, for the instance's Runtime API to serve.
   */
  assign(env: Record<string, string>): Duplex | undefined {
    const channel = this.channel;
    this.channel = undefined;
    if (!channel) return undefined;
    if (this.runtime !== 'nodejs') {
      channel.end(`${JSON.stringify({ env })}\n`);
      return undefined;
    }
    channel.write(`${JSON.stringify({ env, channel: true })}\n`);
    return channel;
  }

  /** @internal The pool's wiring of a spawned process. */
  attach(child: ChildProcess, onReady: () => void): void {
    this.child = child;
    const channel = child.stdio[STANDBY_FD] as Socket | null;
    if (!channel) return;
    this.channel = channel;
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      if (!seen.includes('\n')) return;
      channel.off('data', onData);
      if (seen.startsWith('ready')) onReady();
    };
    channel.on('data', onData);
    // The runtime closes its end once assigned; a broken pipe then is no error of ours.
    channel.on('error', () => undefined);
  }

  /** Kills the process and frees its sandbox; the folders that would have held code go with it. */
  async discard(): Promise<void> {
    if (this.state === 'gone') return;
    this.state = 'gone';
    this.channel?.destroy();
    const { child, sandbox } = this;
    if (child?.pid && sandbox) await sandbox.killAll(child.pid);
    if (child?.pid && child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    await sandbox?.release();
  }
}

/**
 * The agent's pre-started generic runtimes (PRODUCT.md §4): per runtime, a few processes already
 * started in their sandboxes, so a new instance skips process and sandbox start-up and only loads
 * the user's code. Each is given to one function at most. Waiting runtimes count against the
 * agent's memory and slots and are the first thing reclaimed when an instance needs the room;
 * the pool refills in the background, within what room is left.
 *
 * A nodejs runtime's V8 heap is sized when it starts, so nodejs runtimes are started for the
 * memory size last asked for (the default function memory at first).
 */
export class PrestartPool {
  private readonly standbys = new Set<Standby>();
  private readonly failures: Record<StandbyRuntime, number> = { nodejs: 0, python: 0 };
  private readonly pausedAtMs: Record<StandbyRuntime, number> = { nodejs: 0, python: 0 };
  private nodeMemoryMb: number;
  private closed = false;
  /** The periodic refill check; made by start(), so nothing is spawned before the old folders are cleared. */
  private timer: NodeJS.Timeout | undefined;
  private refillQueued = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: PrestartPoolOptions) {
    this.nodeMemoryMb = options.memoryMb;
  }

  /** Starts filling the pool, after removing folders a previous agent on this data directory left behind. Once-only. */
  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.refill(), REFILL_CHECK_MS);
    this.timer.unref();
    fs.rm(this.options.slotRoot, { recursive: true, force: true }).then(
      () => this.refill(),
      (err: unknown) => {
        this.options.logger.warn('could not clear old pre-started runtime folders', { dir: this.options.slotRoot, error: (err as Error).message });
        this.refill();
      },
    );
  }

  /** Takes a ready runtime for a new instance of `record`, or undefined (none ready, or the function cannot use one). */
  take(record: FunctionRecord): Standby | undefined {
    const runtime = record.runtime;
    if (this.closed || runtime === 'provided' || this.options.counts[runtime] === 0) return undefined;
    if (standbyMismatch(record, this.options.ephemeralStorageMb) !== undefined) return undefined;
    let found: Standby | undefined;
    for (const s of this.standbys) if (s.state === 'ready' && s.fits(record)) found = s;
    if (runtime === 'nodejs' && nodeHeapMb(record.config.memoryMb) !== nodeHeapMb(this.nodeMemoryMb)) {
      // Demand moved to another memory size: refills follow it, one waiting runtime at a time.
      this.nodeMemoryMb = record.config.memoryMb;
      const stale = [...this.standbys].find((s) => s.runtime === 'nodejs' && !s.fits(record));
      if (stale) this.drop(stale, false);
    }
    if (found) {
      found.state = 'taken';
      this.standbys.delete(found);
    }
    this.queueRefill(REFILL_AFTER_TAKE_MS);
    return found;
  }

  /** Puts back a runtime taken for an instance that then found no room. */
  giveBack(standby: Standby): void {
    if (standby.state !== 'taken') return;
    if (this.closed) {
      this.discard(standby);
      return;
    }
    standby.state = 'ready';
    this.standbys.add(standby);
  }

  /** Memory booked by waiting (or starting) runtimes, MB. */
  bookedMemoryMb(): number {
    let mb = 0;
    for (const s of this.standbys) mb += s.memoryMb;
    return mb;
  }

  /** /tmp disk booked by waiting (or starting) runtimes, MB (each has its own /tmp of the pool's size). */
  bookedDiskMb(): number {
    return this.standbys.size * this.options.ephemeralStorageMb;
  }

  /** Waiting (or starting) runtimes, each holding a slot. */
  count(): number {
    return this.standbys.size;
  }

  /** Stops one waiting runtime to give its room to an instance; false when there is none. */
  reclaim(): boolean {
    // A starting one first: it has cost least and would take longest to be of use.
    let victim: Standby | undefined;
    for (const s of this.standbys) if (!victim || (s.state === 'starting' && victim.state !== 'starting')) victim = s;
    if (!victim) return false;
    this.drop(victim, false);
    return true;
  }

  /** Stops every waiting runtime and stops refilling; resolves when they are gone. Runs once: later calls get the same promise. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    const all = [...this.standbys];
    this.standbys.clear();
    await Promise.all(all.map((s) => s.discard()));
  }

  /** Stops a runtime without waiting for it; a failure to kill or release it is logged, nothing more can be done. */
  private discard(standby: Standby): void {
    standby.discard().catch((err: unknown) =>
      this.options.logger.warn('could not stop a pre-started runtime', { runtime: standby.runtime, error: (err as Error).message }),
    );
  }

  private queueRefill(delayMs = 0): void {
    if (this.refillQueued) return;
    this.refillQueued = true;
    setTimeout(() => {
      this.refillQueued = false;
      this.refill();
    }, delayMs).unref();
  }

  private refill(): void {
    if (this.closed) return;
    for (const runtime of ['nodejs', 'python'] as const) {
      const want = this.options.counts[runtime];
      const memoryMb = runtime === 'nodejs' ? this.nodeMemoryMb : this.options.memoryMb;
      let have = 0;
      for (const s of this.standbys) if (s.runtime === runtime) have += 1;
      // One more start after the pause; it pauses again if that fails too.
      if (this.failures[runtime] >= MAX_FAILED_STARTS && Date.now() - this.pausedAtMs[runtime] >= FAILED_STARTS_PAUSE_MS) this.failures[runtime] = MAX_FAILED_STARTS - 1;
      while (have < want && this.failures[runtime] < MAX_FAILED_STARTS && this.options.hasRoom(memoryMb, this.options.ephemeralStorageMb)) {
        this.launch(new Standby(runtime, memoryMb));
        have += 1;
      }
    }
  }

  /** Starts one runtime; it is booked (in the set) from this moment on. */
  private launch(standby: Standby): void {
    this.standbys.add(standby);
    const o = this.options;
    const run = async (): Promise<void> => {
      const sandbox = await o.createSandbox({
        instanceId: standby.id,
        slotDir: path.join(o.slotRoot, standby.id),
        runtimesDir: o.runtimesDir,
        memoryMb: standby.memoryMb,
        ephemeralStorageMb: o.ephemeralStorageMb,
      });
      standby.sandbox = sandbox;
      if (standby.state !== 'starting') {
        // Reclaimed or closed while its sandbox was being made.
        await sandbox.release();
        return;
      }
      const { child, ready } = sandbox.spawn(planStandbyLaunch(standby.runtime, sandbox.paths, standby.memoryMb, o), ['ignore', 'pipe', 'pipe', 'pipe']);
      ready.catch((err: unknown) => {
        o.logger.warn('could not complete a pre-started runtime\'s sandbox', { runtime: standby.runtime, error: (err as Error).message });
        this.drop(standby, true);
      });
      const timer = setTimeout(() => {
        o.logger.warn('pre-started runtime not ready in time; stopping it', { runtime: standby.runtime, timeoutMs: o.startTimeoutMs });
        this.drop(standby, true);
      }, o.startTimeoutMs);
      timer.unref();
      child.once('error', (err) => {
        clearTimeout(timer);
        o.logger.warn('could not start a pre-started runtime', { runtime: standby.runtime, error: err.message });
        this.drop(standby, true);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (standby.state === 'taken' || standby.state === 'gone') return;
        o.logger.warn('pre-started runtime exited while waiting', { runtime: standby.runtime, code, signal });
        this.drop(standby, standby.state === 'starting');
      });
      standby.attach(child, () => {
        clearTimeout(timer);
        if (standby.state !== 'starting') return;
        standby.state = 'ready';
        this.failures[standby.runtime] = 0;
      });
    };
    run().catch((err: unknown) => {
      o.logger.warn('could not prepare a pre-started runtime', { runtime: standby.runtime, error: (err as Error).message });
      this.drop(standby, true);
    });
  }

  /** Forgets a waiting runtime and stops it; a failed start counts towards giving up on that runtime. */
  private drop(standby: Standby, failedStart: boolean): void {
    if (standby.state === 'taken' || standby.state === 'gone') return;
    this.standbys.delete(standby);
    this.discard(standby);
    if (failedStart) {
      this.failures[standby.runtime] += 1;
      if (this.failures[standby.runtime] === MAX_FAILED_STARTS) {
        this.pausedAtMs[standby.runtime] = Date.now();
        this.options.logger.warn('pre-started runtimes keep failing to start; pausing this runtime\'s pool before one more try', { runtime: standby.runtime, pauseMs: FAILED_STARTS_PAUSE_MS });
      }
    }
    this.queueRefill();
  }
}
