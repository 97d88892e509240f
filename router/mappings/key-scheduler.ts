/**
 * Which records of a mapping run next, and together: batching (size, bytes, window) and per-key
 * order, as plain logic over plain data (no I/O, no clock of its own).
 *
 * Invariant: a key is "owned" by the groups (batches) holding its records, oldest first; its
 * queued records wait until no group owns it, and a group runs only when it is the oldest owner
 * of each of its keys. So two batches in flight never share a key, and a key's records are
 * always invoked in stream order. A failed batch is replaced by its retries (a bisected batch by
 * its halves) in the same place, so a failing record holds back its own key and the records
 * batched with it, never other keys.
 */

/** What the scheduler needs of a record. */
export interface SchedulableRecord {
  /** Stream sequence; records arrive in increasing order. */
  seq: number;
  /** Ordering key. Unordered mappings give every record a key of its own. */
  key: string;
  /** Serialised size inside a batch event. */
  bytes: number;
  /** Local time the poller received it: the batching window counts from here. */
  arrivedAtMs: number;
}

/** Records invoked together as one batch. */
export interface BatchGroup<T, M> {
  readonly id: number;
  readonly records: T[];
  readonly keys: string[];
  /** Function-error retries used so far. */
  attempts: number;
  /** Throttles in a row, for the backoff. */
  throttles: number;
  notBeforeMs: number;
  /** Whatever the runner carries from one attempt to the next (last error, invocation count). */
  meta: M | undefined;
  running: boolean;
}

/** A group to retry, replacing the one that ran; records must come from it. */
export interface RetrySpec<T, M> {
  records: T[];
  attempts: number;
  throttles: number;
  notBeforeMs: number;
  meta?: M;
}

/** What to do next: run a group, ask again at a time, or wait for records. */
export type ScheduleDecision<T, M> = { kind: 'run'; group: BatchGroup<T, M> } | { kind: 'wait'; untilMs: number } | { kind: 'idle' };

/** Options for {@link KeyScheduler}. */
export interface KeySchedulerOptions {
  batchSize: number;
  /** Most bytes of a batch event; a lone bigger record still goes alone. */
  maxBatchBytes: number;
  /** How long the oldest ready record may wait for a fuller batch; 0 sends at once. */
  windowMs: number;
  /** Bytes of the event around the records (`{"Records":[` … `]}`). */
  envelopeBytes: number;
}

/** A FIFO of one key's records with their byte total. */
class KeyQueue<T extends SchedulableRecord> {
  private items: T[] = [];
  private head = 0;
  bytes = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  push(r: T): void {
    this.items.push(r);
    this.bytes += r.bytes;
  }

  shift(): T | undefined {
    const r = this.items[this.head];
    if (r === undefined) return undefined;
    this.items[this.head] = undefined as unknown as T;
    this.head += 1;
    this.bytes -= r.bytes;
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return r;
  }
}

/** A binary min-heap of (key, head sequence) entries; stale entries are skipped when popped. */
class ReadyHeap {
  private readonly a: Array<{ key: string; seq: number }> = [];

  get size(): number {
    return this.a.length;
  }

  peek(): { key: string; seq: number } | undefined {
    return this.a[0];
  }

  push(e: { key: string; seq: number }): void {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((a[p] as { seq: number }).seq <= e.seq) break;
      a[i] = a[p] as { key: string; seq: number };
      i = p;
    }
    a[i] = e;
  }

  pop(): { key: string; seq: number } | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && (a[r] as { seq: number }).seq < (a[l] as { seq: number }).seq ? r : l;
      if ((a[c] as { seq: number }).seq >= last.seq) break;
      a[i] = a[c] as { key: string; seq: number };
      i = c;
    }
    a[i] = last;
    return top;
  }
}

/** Batches a mapping's records and keeps each key's records in order; see the file comment. */
export class KeyScheduler<T extends SchedulableRecord, M = unknown> {
  private readonly queues = new Map<string, KeyQueue<T>>();
  private readonly owners = new Map<string, Array<BatchGroup<T, M>>>();
  private readonly ready = new ReadyHeap();
  /** Groups waiting to run again, oldest first. */
  private pending: Array<BatchGroup<T, M>> = [];
  private nextId = 1;
  private eligible = 0;
  private eligibleBytes = 0;
  private held = 0;
  private heldBytes = 0;

  constructor(private readonly options: KeySchedulerOptions) {}

  /** Records held: queued, waiting to retry or running. */
  get buffered(): number {
    return this.held;
  }

  /** Bytes of the records held. */
  get bufferedBytes(): number {
    return this.heldBytes;
  }

  /** Adds a record just read from the stream. */
  add(r: T): void {
    let q = this.queues.get(r.key);
    if (!q) this.queues.set(r.key, (q = new KeyQueue<T>()));
    q.push(r);
    this.held += 1;
    this.heldBytes += r.bytes;
    if (!this.owners.has(r.key)) {
      this.eligible += 1;
      this.eligibleBytes += r.bytes;
      if (q.length === 1) this.ready.push({ key: r.key, seq: r.seq });
    }
  }

  /**
   * The next group to start, when a slot is free: a due retry first (oldest first), then a new
   * batch from the keys nobody owns once it is full or its window has passed.
   */
  next(nowMs: number): ScheduleDecision<T, M> {
    let wakeAt = Infinity;
    for (let i = 0; i < this.pending.length; i += 1) {
      const g = this.pending[i] as BatchGroup<T, M>;
      if (!this.isOldestOwner(g)) continue;
      if (g.notBeforeMs > nowMs) {
        wakeAt = Math.min(wakeAt, g.notBeforeMs);
        continue;
      }
      this.pending.splice(i, 1);
      g.running = true;
      return { kind: 'run', group: g };
    }
    const oldest = this.oldestReady();
    if (oldest) {
      const { batchSize, maxBatchBytes, windowMs, envelopeBytes } = this.options;
      const full = this.eligible >= batchSize || this.eligibleBytes + this.eligible + envelopeBytes >= maxBatchBytes;
      const windowEnd = oldest.arrivedAtMs + windowMs;
      if (full || windowMs === 0 || nowMs >= windowEnd) return { kind: 'run', group: this.takeBatch() };
      wakeAt = Math.min(wakeAt, windowEnd);
    }
    return wakeAt === Infinity ? { kind: 'idle' } : { kind: 'wait', untilMs: wakeAt };
  }

  /**
   * A running group ended. Its records not in `retries` are done; the retries take its place
   * in each key's order (a bisected batch's halves in order). Keys no group owns any more are
   * free again.
   */
  settle(group: BatchGroup<T, M>, retries: ReadonlyArray<RetrySpec<T, M>> = []): void {
    group.running = false;
    const replacements = retries.filter((r) => r.records.length > 0).map((r) => this.makeGroup(r.records, r));
    const kept = new Set<number>();
    for (const g of replacements) for (const r of g.records) kept.add(r.seq);
    for (const r of group.records) {
      if (kept.has(r.seq)) continue;
      this.held -= 1;
      this.heldBytes -= r.bytes;
    }
    for (const key of group.keys) {
      const list = this.owners.get(key) ?? [];
      const at = list.indexOf(group);
      const instead = replacements.filter((g) => g.keys.includes(key));
      if (at >= 0) list.splice(at, 1, ...instead);
      if (list.length > 0) continue;
      this.owners.delete(key);
      const q = this.queues.get(key);
      const head = q?.peek();
      if (!q || !head) {
        this.queues.delete(key);
        continue;
      }
      this.eligible += q.length;
      this.eligibleBytes += q.bytes;
      this.ready.push({ key, seq: head.seq });
    }
    this.pending.push(...replacements);
    this.pending.sort((a, b) => a.id - b.id);
  }

  private isOldestOwner(g: BatchGroup<T, M>): boolean {
    return g.keys.every((k) => this.owners.get(k)?.[0] === g);
  }

  /** The oldest record of a free key, dropping stale heap entries on the way. */
  private oldestReady(): T | undefined {
    for (;;) {
      const top = this.ready.peek();
      if (!top) return undefined;
      const head = this.queues.get(top.key)?.peek();
      if (!this.owners.has(top.key) && head && head.seq === top.seq) return head;
      this.ready.pop();
    }
  }

  private takeBatch(): BatchGroup<T, M> {
    const { batchSize, maxBatchBytes, envelopeBytes } = this.options;
    const records: T[] = [];
    const keys = new Set<string>();
    let bytes = envelopeBytes;
    while (records.length < batchSize) {
      const head = this.oldestReady();
      if (!head) break;
      if (records.length > 0 && bytes + head.bytes + 1 > maxBatchBytes) break;
      this.ready.pop();
      const q = this.queues.get(head.key) as KeyQueue<T>;
      q.shift();
      records.push(head);
      bytes += head.bytes + 1;
      keys.add(head.key);
      this.eligible -= 1;
      this.eligibleBytes -= head.bytes;
      const nextHead = q.peek();
      if (nextHead) this.ready.push({ key: head.key, seq: nextHead.seq });
    }
    const group = this.makeGroup(records, { records, attempts: 0, throttles: 0, notBeforeMs: 0 });
    group.running = true;
    for (const key of group.keys) {
      // The key's later records now wait behind this batch.
      const q = this.queues.get(key);
      if (q) {
        this.eligible -= q.length;
        this.eligibleBytes -= q.bytes;
      }
      this.owners.set(key, [group]);
    }
    return group;
  }

  private makeGroup(records: T[], spec: RetrySpec<T, M>): BatchGroup<T, M> {
    const keys = [...new Set(records.map((r) => r.key))];
    return { id: this.nextId++, records, keys, attempts: spec.attempts, throttles: spec.throttles, notBeforeMs: spec.notBeforeMs, meta: spec.meta, running: false };
  }
}
