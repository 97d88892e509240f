import { randomUUID } from 'node:crypto';
import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream';
import { StratusError } from '../../sdk/core/errors';
import type { DeadLetterFields } from '../../sdk/core/dead-letter';
import { viaNats } from '../../sdk/platform/nats-errors';
import { deadLetterSubject, HEADERS, STREAMS } from '../../sdk/platform/nats-layout';
import type { AsyncQueue } from './async-queue';

/** One dead letter, decoded. */
export interface DeadLetterEntry extends DeadLetterFields {
  timeMs: number;
  record: Buffer;
  /** The original event, as the record carries it. */
  requestPayload: unknown;
  /** How requestPayload maps back to the event's bytes; undefined for letters written without it. */
  payloadFormat: 'json' | 'text' | undefined;
}

/** The event bytes to enqueue again for a dead letter. */
function eventBytes(entry: DeadLetterEntry): Buffer {
  const p = entry.requestPayload;
  if (entry.payloadFormat === 'json') return Buffer.from(JSON.stringify(p));
  if (entry.payloadFormat === 'text') return Buffer.from(typeof p === 'string' ? p : '');
  // Written without a format: a string is ambiguous (JSON "x" or text x); text is the old guess.
  return p === null ? Buffer.alloc(0) : Buffer.from(typeof p === 'string' ? p : JSON.stringify(p));
}

function decode(fn: string, m: StoredMsg): DeadLetterEntry {
  let rec: { requestContext?: { approximateInvokeCount?: number; condition?: string }; requestPayload?: unknown; responsePayload?: { errorType?: string; errorMessage?: string } } = {};
  try {
    rec = JSON.parse(Buffer.from(m.data).toString('utf8'));
  } catch {
    // Not a record Stratus wrote: list it with what the headers say.
  }
  const response = rec.responsePayload && typeof rec.responsePayload === 'object' ? rec.responsePayload : {};
  const format = m.header?.get(HEADERS.payloadFormat);
  return {
    sequence: m.seq,
    functionName: fn,
    requestId: m.header?.get(HEADERS.requestId) ?? '',
    condition: m.header?.get(HEADERS.condition) || rec.requestContext?.condition || '',
    approximateInvokeCount: rec.requestContext?.approximateInvokeCount ?? 0,
    errorType: typeof response.errorType === 'string' ? response.errorType : '',
    errorMessage: typeof response.errorMessage === 'string' ? response.errorMessage : '',
    timeMs: m.time.getTime(),
    record: Buffer.from(m.data),
    requestPayload: rec.requestPayload ?? null,
    payloadFormat: format === 'json' || format === 'text' ? format : undefined,
  };
}

/** Reading, redriving and purging a function's dead letters in the dead-letter stream. */
export class DeadLetters {
  constructor(
    private readonly jsm: JetStreamManager,
    private readonly queue: AsyncQueue,
  ) {}

  /** Dead letters of `fn` after `afterSequence`, oldest first, at most `max`. */
  async list(fn: string, afterSequence: number, max: number): Promise<{ entries: DeadLetterEntry[]; next: number }> {
    const entries: DeadLetterEntry[] = [];
    let seq = afterSequence + 1;
    while (entries.length < max) {
      const m = await viaNats('reading dead letters', () => this.jsm.direct.getMessage(STREAMS.deadLetters, { next_by_subj: deadLetterSubject(fn), seq }));
      if (!m) break;
      entries.push(decode(fn, m));
      seq = m.seq + 1;
    }
    return { entries, next: entries.length === max ? (entries[entries.length - 1]?.sequence ?? 0) : 0 };
  }

  /** One dead letter; FunctionNotFound-style InvalidRequest when it is not one of fn's. */
  async get(fn: string, sequence: number): Promise<DeadLetterEntry> {
    const m = await viaNats('reading a dead letter', () => this.jsm.streams.getMessage(STREAMS.deadLetters, { seq: sequence })).catch(() => null);
    if (!m || m.subject !== deadLetterSubject(fn)) {
      throw new StratusError('InvalidRequest', `function '${fn}' has no dead letter ${sequence}: list them with stratus dlq ls ${fn}`);
    }
    return decode(fn, m);
  }

  /**
   * Enqueues dead letters' original events again (each with a new request id, so the
   * deduplication window cannot swallow it) and removes them once enqueued.
   */
  async redrive(fn: string, sequences: number[]): Promise<string[]> {
    const targets = sequences.length > 0 ? await Promise.all(sequences.map((s) => this.get(fn, s))) : await this.all(fn);
    const ids: string[] = [];
    for (const entry of targets) {
      const payload = eventBytes(entry);
      const requestId = randomUUID();
      await this.queue.enqueue({ functionName: fn, qualifier: '', payload, requestId, enqueuedAtMs: Date.now(), attempt: 0, redrivenFrom: entry.sequence, origin: { trigger: 'redrive', source: String(entry.sequence) } });
      await viaNats('removing a redriven dead letter', () => this.jsm.streams.deleteMessage(STREAMS.deadLetters, entry.sequence));
      ids.push(requestId);
    }
    return ids;
  }

  /** Deletes all of fn's dead letters; returns how many. */
  async purge(fn: string): Promise<number> {
    const res = await viaNats('purging dead letters', () => this.jsm.streams.purge(STREAMS.deadLetters, { filter: deadLetterSubject(fn) }));
    return res.purged;
  }

  private async all(fn: string): Promise<DeadLetterEntry[]> {
    const out: DeadLetterEntry[] = [];
    let after = 0;
    for (;;) {
      const page = await this.list(fn, after, 500);
      out.push(...page.entries);
      if (!page.next) return out;
      after = page.next;
    }
  }
}
