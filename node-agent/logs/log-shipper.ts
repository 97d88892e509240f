import type { LogEntry, LogLevel, LogSource } from '../../sdk/core/function-logs';
import { encodeLogBatch } from '../../sdk/platform/log-batch';
import { logSubject } from '../../sdk/platform/nats-layout';

/** Options for {@link LogShipper}; agent-options.ts resolves them from the environment. */
export interface LogShipperOptions {
  agentId: string;
  /** Longest a line waits before it is sent (STRATUS_LOG_FLUSH_MS). Default 50 ms. */
  flushMs: number;
  /** Largest message a batch of lines is sent in. Default 256 KiB. */
  maxBatchBytes: number;
  /** What one function may log on this agent, on average (STRATUS_LOG_BUDGET_KB_PER_SECOND). Default 1 MiB/s. */
  budgetBytesPerSecond: number;
  /** How far above its rate a function may log in a burst (STRATUS_LOG_BURST_KB). Default 4 MiB. */
  burstBytes: number;
  /** Most bytes held waiting to be sent, all functions together. Default 32 MiB. */
  maxBufferedBytes: number;
  /** Tries to store a batch before its lines are counted as dropped. Default 3. */
  publishAttempts: number;
}

/** Why lines were not stored. */
export type DropReason = 'budget' | 'buffer' | 'publish';

/** Counts of one function's lines on this agent, for /metrics. */
export interface FunctionLogStats {
  lines: number;
  bytes: number;
  dropped: Record<DropReason, number>;
}

/** Stores a batch in the function's log stream and resolves once it is acknowledged. */
export type PublishBatch = (subject: string, data: Uint8Array) => Promise<void>;

interface FunctionBuffer {
  subject: string;
  entries: LogEntry[];
  bytes: number;
  tokens: number;
  refilledAt: number;
  /** Lines dropped since the last marker; the next marker stands for them. */
  pendingDrops: number;
  /** The invocation and instance of the last dropped line, so its marker is found with the invocation's lines. */
  dropRequestId: string;
  dropInstanceId: string;
  sending: boolean;
  stats: FunctionLogStats;
}

/** Rough bytes an entry takes in a batch: its message plus its fields. */
function sizeOf(e: LogEntry): number {
  return e.message.length + e.requestId.length + 48;
}

/**
 * Ships every line a function writes to its log stream, in order, without ever making the
 * invocation wait: lines are appended to a per-function buffer and sent in batches (one message
 * per flush, one in flight per function, so order holds). A function that logs faster than its
 * budget, a buffer that is full, or a stream that will not take a batch costs lines, never
 * latency: they are counted by reason and stand in the stream as a platform line saying how many
 * went missing.
 */
export class LogShipper {
  private readonly buffers = new Map<string, FunctionBuffer>();
  private buffered = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly publish: PublishBatch,
    private readonly options: LogShipperOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts the flush timer. */
  start(): void {
    this.timer = setInterval(() => this.flushAll(), this.options.flushMs);
    this.timer.unref();
  }

  /** A line a function's instance wrote. */
  line(functionName: string, instanceId: string, requestId: string | undefined, source: LogSource, message: string, level: LogLevel | ''): void {
    const buffer = this.buffer(functionName);
    const entry: LogEntry = { timeMs: this.now(), requestId: requestId ?? '', level, source, message, instanceId, agentId: this.options.agentId, droppedLines: 0 };
    const size = sizeOf(entry);
    this.refill(buffer);
    // Platform lines (START, END, REPORT) are the function's record: they pass the budget, not a full buffer.
    const overBudget = source !== 'platform' && buffer.tokens < size;
    const full = this.buffered + size > this.options.maxBufferedBytes;
    if (overBudget || full) {
      buffer.pendingDrops += 1;
      buffer.dropRequestId = entry.requestId;
      buffer.dropInstanceId = instanceId;
      buffer.stats.dropped[overBudget ? 'budget' : 'buffer'] += 1;
      return;
    }
    if (source !== 'platform') buffer.tokens -= size;
    if (buffer.pendingDrops > 0) this.appendMarker(buffer, entry.timeMs);
    buffer.entries.push(entry);
    buffer.bytes += size;
    this.buffered += size;
    buffer.stats.lines += 1;
    buffer.stats.bytes += message.length;
    if (buffer.bytes >= this.options.maxBatchBytes) this.send(buffer);
  }

  /** Every function's counts. */
  stats(): Map<string, FunctionLogStats> {
    const out = new Map<string, FunctionLogStats>();
    for (const [fn, b] of this.buffers) out.set(fn, { ...b.stats, dropped: { ...b.stats.dropped } });
    return out;
  }

  /** Sends what is buffered and waits (at most `graceMs`) for it to be stored; later lines are dropped. Once-only. */
  async close(graceMs: number): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    this.flushAll();
    this.closed = true;
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (this.inFlight.size > 0 || [...this.buffers.values()].some((b) => b.entries.length > 0))) {
      this.flushAll(true);
      await Promise.race([Promise.all(this.inFlight), new Promise((r) => setTimeout(r, 20))]);
    }
  }

  private buffer(functionName: string): FunctionBuffer {
    let b = this.buffers.get(functionName);
    if (!b) {
      b = {
        subject: logSubject(functionName),
        entries: [],
        bytes: 0,
        tokens: this.options.burstBytes,
        refilledAt: this.now(),
        pendingDrops: 0,
        dropRequestId: '',
        dropInstanceId: '',
        sending: false,
        stats: { lines: 0, bytes: 0, dropped: { budget: 0, buffer: 0, publish: 0 } },
      };
      this.buffers.set(functionName, b);
    }
    return b;
  }

  private refill(b: FunctionBuffer): void {
    const now = this.now();
    b.tokens = Math.min(this.options.burstBytes, b.tokens + ((now - b.refilledAt) / 1000) * this.options.budgetBytesPerSecond);
    b.refilledAt = now;
  }

  private appendMarker(b: FunctionBuffer, timeMs: number): void {
    const { dropRequestId: requestId, dropInstanceId: instanceId } = b;
    const n = b.pendingDrops;
    b.pendingDrops = 0;
    const kb = Math.round(this.options.budgetBytesPerSecond / 1024);
    const message = `STRATUS_LOGS_DROPPED ${n} line(s) were not kept: the function logged faster than its budget of ${kb} KB/s (bursts to ${Math.round(this.options.burstBytes / 1024)} KB) or the agent could not store them; log less, or raise STRATUS_LOG_BUDGET_KB_PER_SECOND`;
    const marker: LogEntry = { timeMs, requestId, level: 'WARN', source: 'platform', message, instanceId, agentId: this.options.agentId, droppedLines: n };
    b.entries.push(marker);
    b.bytes += sizeOf(marker);
    this.buffered += sizeOf(marker);
  }

  private flushAll(evenClosed = false): void {
    if (this.closed && !evenClosed) return;
    for (const b of this.buffers.values()) {
      // Lines dropped at the end of a burst get their marker once the flush comes round.
      if (b.pendingDrops > 0 && !b.sending) this.appendMarker(b, this.now());
      if (b.entries.length > 0) this.send(b);
    }
  }

  private send(b: FunctionBuffer): void {
    if (b.sending || b.entries.length === 0) return;
    let take = 0;
    let bytes = 0;
    while (take < b.entries.length && (take === 0 || bytes + sizeOf(b.entries[take]!) <= this.options.maxBatchBytes)) bytes += sizeOf(b.entries[take++]!);
    const batch = b.entries.splice(0, take);
    b.bytes -= bytes;
    b.sending = true;
    const done = this.store(b, batch).finally(() => {
      this.buffered -= bytes;
      b.sending = false;
      this.inFlight.delete(done);
      // More arrived while this one was out: send it now rather than at the next tick.
      if (b.bytes >= this.options.maxBatchBytes) this.send(b);
    });
    this.inFlight.add(done);
  }

  private async store(b: FunctionBuffer, batch: LogEntry[]): Promise<void> {
    const data = encodeLogBatch(batch);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.publish(b.subject, data);
        return;
      } catch {
        if (attempt >= this.options.publishAttempts) break;
        await new Promise((r) => setTimeout(r, 100 * 2 ** (attempt - 1)).unref());
      }
    }
    const lost = batch.filter((e) => e.droppedLines === 0).length;
    b.stats.dropped.publish += lost;
    b.pendingDrops += lost + batch.reduce((n, e) => n + e.droppedLines, 0);
    b.dropRequestId = batch.at(-1)?.requestId ?? '';
    b.dropInstanceId = batch.at(-1)?.instanceId ?? '';
  }
}
