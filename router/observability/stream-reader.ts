import { DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';

/** One stored message as a reader sees it. */
export interface StoredMessage {
  seq: number;
  /** When the stream stored it, epoch ms. */
  storedMs: number;
  data: Uint8Array;
}

/** What to read. */
export interface StreamReadOptions {
  stream: string;
  /** A subject of the stream (wildcards allowed). */
  subject: string;
  /** Messages stored at or after this time (epoch ms); 0: from the oldest. */
  sinceMs: number;
  /** Keep reading new messages as they are stored, until the signal aborts. */
  follow: boolean;
  signal: AbortSignal;
}

/** Messages are stored a little after their lines were written: a start time this much earlier misses none. */
const STORE_LAG_MS = 10_000;

function notFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamNotFound || err.code === JetStreamApiCodes.NoMessageFound);
}

/** The sequence and time of the last message on `subject`, or undefined when there is none (or no stream). */
async function lastMessage(jsm: JetStreamManager, stream: string, subject: string): Promise<{ seq: number; storedMs: number } | undefined> {
  try {
    if (subject.includes('*') || subject.includes('>')) {
      const info = await jsm.streams.info(stream);
      return info.state.messages === 0 ? undefined : { seq: info.state.last_seq, storedMs: Date.parse(info.state.last_ts) };
    }
    const m = await jsm.streams.getMessage(stream, { last_by_subj: subject });
    return m ? { seq: m.seq, storedMs: m.timestamp ? Date.parse(m.timestamp) : Date.now() } : undefined;
  } catch (err) {
    if (notFound(err)) return undefined;
    throw err;
  }
}

/**
 * Reads a stream's messages on one subject in order, from a start time, through an ordered
 * (ephemeral, flow-controlled) consumer: to the last message there was when reading began, or with
 * `follow` on and on. Any router can do this; nothing is left behind when it stops.
 */
export async function* readStream(js: JetStreamClient, jsm: JetStreamManager, o: StreamReadOptions): AsyncGenerator<StoredMessage> {
  const last = o.follow ? undefined : await lastMessage(jsm, o.stream, o.subject);
  if (!o.follow && (!last || last.storedMs < o.sinceMs)) return;
  const consumer = await js.consumers.get(o.stream, {
    filter_subjects: o.subject,
    ...(o.sinceMs > 0 ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(Math.max(0, o.sinceMs - STORE_LAG_MS)).toISOString() } : { deliver_policy: DeliverPolicy.All }),
  });
  const messages = await consumer.consume({ max_messages: 256 });
  const stop = (): void => void messages.stop();
  o.signal.addEventListener('abort', stop, { once: true });
  try {
    if (o.signal.aborted) return;
    for await (const m of messages) {
      yield { seq: m.seq, storedMs: Math.floor(m.info.timestampNanos / 1_000_000), data: m.data };
      if (last && m.seq >= last.seq) return;
    }
  } finally {
    o.signal.removeEventListener('abort', stop);
    stop();
  }
}
