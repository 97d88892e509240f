import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { StratusError } from '../../sdk/core/errors';
import { viaNats } from '../../sdk/platform/nats-errors';
import { EVENTS_IDLE_SUBJECT, STREAMS, triggerConsumerName } from '../../sdk/platform/nats-layout';
import { streamSubjects, subjectsOverlap } from './subject-patterns';
import type { TriggerRecord } from './trigger-registry';

/** Options for {@link EventStream}. */
export interface EventStreamOptions {
  replicas: number;
  /** Longest an event waits in the stream for a router to take it (like EventBridge's 24 h of delivery retries). */
  maxAgeMs: number;
  /** Window in which a publisher's Nats-Msg-Id makes a repeated publish a no-op. */
  duplicateWindowMs: number;
  /** How long a router may hold an event before another gets it. */
  ackWaitMs: number;
}

/** JetStream's code for "stream name already in use" (another router created it first). */
const STREAM_NAME_IN_USE = 10058;
/** JetStream's code for "subjects overlap with an existing stream". */
const SUBJECTS_OVERLAP = 10065;

function isApiError(err: unknown, code: number): boolean {
  const e = err instanceof StratusError ? err.cause : err;
  return e instanceof JetStreamApiError && e.code === code;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * The events stream: captures every event published on a subject some trigger subscribes to,
 * the moment it is published, whether or not a router runs. Interest retention drops an event
 * once every trigger consumer whose pattern matches it has acknowledged it.
 */
export class EventStream {
  constructor(
    private readonly jsm: JetStreamManager,
    private readonly options: EventStreamOptions,
  ) {}

  /** The stream's subjects for these trigger patterns (a placeholder when there are none). */
  static subjectsFor(patterns: readonly string[]): string[] {
    const subjects = streamSubjects(patterns);
    return subjects.length > 0 ? subjects : [EVENTS_IDLE_SUBJECT];
  }

  /** Creates the stream when missing, capturing `patterns`. */
  async ensure(patterns: readonly string[]): Promise<void> {
    try {
      await this.jsm.streams.info(STREAMS.events);
      return;
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    }
    try {
      await this.jsm.streams.add({
        name: STREAMS.events,
        subjects: EventStream.subjectsFor(patterns),
        retention: RetentionPolicy.Interest,
        storage: StorageType.File,
        num_replicas: this.options.replicas,
        max_age: this.options.maxAgeMs * 1_000_000,
        duplicate_window: this.options.duplicateWindowMs * 1_000_000,
        description: 'Stratus events published to trigger subjects',
      });
    } catch (err) {
      // Another router created it at the same moment: theirs serves as well.
      if (!isApiError(err, STREAM_NAME_IN_USE)) throw err;
    }
  }

  /** The sequence of the last event captured (0 when none). */
  async lastSequence(): Promise<number> {
    const info = await viaNats('reading the events stream', () => this.jsm.streams.info(STREAMS.events));
    return info.state.last_seq;
  }

  /**
   * Refuses subjects another JetStream stream already captures (JetStream would refuse the
   * events stream's update), naming that stream.
   */
  async checkNoForeignOverlap(pattern: string, subjects: readonly string[]): Promise<void> {
    const streams = await viaNats('listing streams', async () => {
      const out: Array<{ name: string; subjects: string[] }> = [];
      for await (const si of this.jsm.streams.list()) out.push({ name: si.config.name, subjects: si.config.subjects ?? [] });
      return out;
    });
    for (const other of streams) {
      if (other.name === STREAMS.events) continue;
      for (const s of subjects) {
        const clash = other.subjects.find((o) => subjectsOverlap(s, o));
        if (clash) {
          throw new StratusError(
            'InvalidRequest',
            `pattern '${pattern}' needs the events stream to capture '${s}', which overlaps '${clash}' of stream ${other.name}: a subject can be captured by one stream only; pick a pattern outside ${clash}`,
          );
        }
      }
    }
  }

  /**
   * Makes the stream capture exactly what `listPatterns` returns. Reads the registry again after
   * each update and repeats until they agree, so two routers updating at once cannot leave a
   * trigger's subject out (the last writer always writes after its own fresh read).
   */
  async reconcile(listPatterns: () => Promise<string[]>): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const desired = EventStream.subjectsFor(await listPatterns());
      const info = await viaNats('reading the events stream', () => this.jsm.streams.info(STREAMS.events));
      if (sameSet(info.config.subjects ?? [], desired)) return;
      try {
        await this.jsm.streams.update(STREAMS.events, { subjects: desired });
      } catch (err) {
        if (isApiError(err, SUBJECTS_OVERLAP)) {
          throw new StratusError('InvalidRequest', `the events stream cannot capture ${desired.join(', ')}: another JetStream stream captures an overlapping subject; delete the trigger that needs it`, { cause: err });
        }
        throw new StratusError('ServiceUnavailable', `updating the events stream's subjects failed (${(err as Error).message}): retry`, { cause: err });
      }
    }
    throw new StratusError('ServiceUnavailable', 'triggers are changing too fast to update the events stream: retry');
  }

  /** Creates the trigger's durable consumer when missing. */
  async ensureConsumer(t: TriggerRecord): Promise<void> {
    const name = triggerConsumerName(t.id);
    try {
      await this.jsm.consumers.info(STREAMS.events, name);
      return;
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
    }
    await viaNats(`creating the consumer of trigger ${t.id}`, () =>
      this.jsm.consumers.add(STREAMS.events, {
        durable_name: name,
        description: `trigger ${t.id}: ${t.subject} -> ${t.functionName}`,
        filter_subject: t.subject,
        ack_policy: AckPolicy.Explicit,
        // From the trigger's creation on, also when the consumer is (re)made later.
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Math.max(1, t.startSequence),
        ack_wait: this.options.ackWaitMs * 1_000_000,
        max_deliver: -1,
        max_ack_pending: 10_000,
      }),
    );
  }

  /** Deletes a trigger's consumer; absent is fine. */
  async deleteConsumer(id: string): Promise<void> {
    try {
      await this.jsm.consumers.delete(STREAMS.events, triggerConsumerName(id));
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound) return;
      throw new StratusError('ServiceUnavailable', `deleting the consumer of trigger ${id} failed (${(err as Error).message}): retry`, { cause: err });
    }
  }

  /** Ids of the triggers that have a consumer. */
  async consumerIds(): Promise<string[]> {
    const ids: string[] = [];
    await viaNats('listing trigger consumers', async () => {
      for await (const ci of this.jsm.consumers.list(STREAMS.events)) {
        const name = ci.config.durable_name ?? ci.name;
        if (name.startsWith('trigger-')) ids.push(name.slice('trigger-'.length));
      }
    });
    return ids;
  }
}
