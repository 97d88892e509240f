import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type ConsumerConfig, type JetStreamManager } from '@nats-io/jetstream';
import { StratusError } from '../../sdk/core/errors';
import { natsFailure } from '../../sdk/platform/nats-errors';
import type { StartingPosition } from '../../sdk/core/mapping-config';
import { mappingConsumerName } from '../../sdk/platform/nats-layout';

/**
 * A mapping's checkpoint is a durable consumer on its stream (ack policy explicit): a record is
 * acknowledged only once it is done — its batch succeeded, or it went to the on-failure
 * destination — so the consumer's ack floor is how far the mapping got.
 *
 * A router that takes a mapping over does not read the old consumer on: JetStream would hand
 * it the old holder's unacknowledged records only after their ack wait, behind newer records,
 * breaking per-key order. It creates the next epoch's consumer starting right after the old
 * one's ack floor, then deletes the old one. Records after the floor that the old holder had
 * finished run again (at least once, never skipped); a crash between the two steps leaves two
 * epochs, and the newest wins next time (it starts where the older one's floor was).
 */

/** What a consumer tells about progress. */
export interface CheckpointState {
  consumer: string;
  epoch: number;
  /** Every record up to this stream sequence is done. */
  checkpoint: number;
  /** Records after the checkpoint not yet done (delivered and not acknowledged, or not delivered). */
  pending: number;
}

/** Options for {@link Checkpoints}. */
export interface CheckpointOptions {
  /** How long a delivered record may stay unacknowledged before redelivery (the poller ignores redeliveries of records it holds). */
  ackWaitMs: number;
  /** Unacknowledged records the server lets a consumer have (the poller holds fewer). */
  maxAckPending: number;
}

/** The epoch in a mapping consumer's name, or undefined when the name is not one of the mapping's. */
export function consumerEpoch(name: string, mappingId: string): number | undefined {
  const prefix = mappingConsumerName(mappingId, 0).slice(0, -1);
  if (!name.startsWith(prefix)) return undefined;
  const rest = name.slice(prefix.length);
  return /^\d+$/.test(rest) ? Number(rest) : undefined;
}

/**
 * Where a new epoch starts: after the ack floor once anything was acknowledged, else where the
 * old consumer started (a fresh consumer's floor is 0, not its start).
 */
export function resumeSequence(s: { ackFloorConsumerSeq: number; ackFloorStreamSeq: number; optStartSeq: number }): number {
  return s.ackFloorConsumerSeq > 0 ? s.ackFloorStreamSeq + 1 : Math.max(1, s.optStartSeq);
}

/** JetStream's error code for a consumer filter outside the stream's subjects (nats.js has no name for it). */
const FILTER_NOT_IN_STREAM = 10093;

function notFound(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** Creates, takes over, reads and deletes mapping checkpoints. */
export class Checkpoints {
  constructor(
    private readonly jsm: JetStreamManager,
    private readonly options: CheckpointOptions,
  ) {}

  /** The first stream sequence a new mapping reads, from its starting position. */
  async startSequence(stream: string, position: StartingPosition, timestampMs: number): Promise<number> {
    switch (position) {
      case 'TRIM_HORIZON':
        return 1;
      case 'LATEST': {
        const info = await this.streamInfo(stream);
        return info.state.last_seq + 1;
      }
      case 'AT_TIMESTAMP': {
        // The server finds the first record at or after the time; an ephemeral consumer asks it.
        const probe = await this.wrap(`finding the records of stream ${stream} after ${new Date(timestampMs).toISOString()}`, () =>
          this.jsm.consumers.add(stream, { ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(timestampMs).toISOString(), inactive_threshold: 30_000_000_000, mem_storage: true }),
        );
        await this.jsm.consumers.delete(stream, probe.name).catch(() => undefined);
        return probe.delivered.stream_seq + 1;
      }
      default: {
        const unknown: never = position;
        return unknown;
      }
    }
  }

  /** Creates a new mapping's first consumer. */
  async create(mappingId: string, stream: string, subjectFilter: string, startSeq: number, description: string): Promise<string> {
    const name = mappingConsumerName(mappingId, 1);
    await this.wrap(`creating the checkpoint of mapping ${mappingId} on stream ${stream}`, () => this.jsm.consumers.add(stream, this.config(name, subjectFilter, startSeq, description)));
    return name;
  }

  /**
   * Starts the next epoch from the newest one's ack floor and deletes the older ones (see the
   * file comment). When no consumer is left (someone deleted it), starts again from the oldest
   * record the stream holds: records run twice rather than never; `recreated` says so.
   */
  async takeOver(mappingId: string, stream: string, subjectFilter: string, description: string, mappingExists: () => Promise<boolean>): Promise<{ consumer: string; startSeq: number; recreated: boolean }> {
    const epochs = await this.epochs(mappingId, stream);
    const newest = epochs.at(-1);
    // No consumer may also mean the mapping was just deleted: then nothing must be created.
    if (newest === undefined && !(await mappingExists())) throw new StratusError('ResourceNotFound', `mapping ${mappingId} was deleted: its poller stops`);
    let startSeq = 1;
    if (newest !== undefined) {
      const info = await this.wrap(`reading the checkpoint of mapping ${mappingId}`, () => this.jsm.consumers.info(stream, mappingConsumerName(mappingId, newest)));
      startSeq = resumeSequence({ ackFloorConsumerSeq: info.ack_floor.consumer_seq, ackFloorStreamSeq: info.ack_floor.stream_seq, optStartSeq: info.config.opt_start_seq ?? 1 });
    }
    const name = mappingConsumerName(mappingId, (newest ?? 0) + 1);
    await this.wrap(`creating the checkpoint of mapping ${mappingId}`, () => this.jsm.consumers.add(stream, this.config(name, subjectFilter, startSeq, description)));
    for (const e of epochs) {
      await this.jsm.consumers.delete(stream, mappingConsumerName(mappingId, e)).catch((err: unknown) => {
        if (!notFound(err, JetStreamApiCodes.ConsumerNotFound)) throw natsFailure(`deleting an old checkpoint of mapping ${mappingId}`, err);
      });
    }
    return { consumer: name, startSeq, recreated: newest === undefined };
  }

  /** The newest epoch's progress, or undefined when the mapping has no consumer (or its stream is gone). */
  async state(mappingId: string, stream: string): Promise<CheckpointState | undefined> {
    const epochs = await this.epochs(mappingId, stream).catch(() => []);
    const newest = epochs.at(-1);
    if (newest === undefined) return undefined;
    const consumer = mappingConsumerName(mappingId, newest);
    const info = await this.jsm.consumers.info(stream, consumer).catch(() => undefined);
    if (!info) return undefined;
    const resume = resumeSequence({ ackFloorConsumerSeq: info.ack_floor.consumer_seq, ackFloorStreamSeq: info.ack_floor.stream_seq, optStartSeq: info.config.opt_start_seq ?? 1 });
    return { consumer, epoch: newest, checkpoint: resume - 1, pending: info.num_pending + info.num_ack_pending };
  }

  /** Deletes every consumer of a mapping (its checkpoint goes with it). */
  async remove(mappingId: string, stream: string): Promise<void> {
    const epochs = await this.epochs(mappingId, stream).catch((err: unknown) => {
      if (notFound(err, JetStreamApiCodes.StreamNotFound)) return [];
      throw err;
    });
    for (const e of epochs) await this.jsm.consumers.delete(stream, mappingConsumerName(mappingId, e)).catch(() => undefined);
  }

  /** The mapping's consumer epochs on the stream, oldest first. */
  private async epochs(mappingId: string, stream: string): Promise<number[]> {
    const out: number[] = [];
    await this.wrap(`listing the checkpoints of mapping ${mappingId}`, async () => {
      for await (const c of this.jsm.consumers.list(stream)) {
        const e = consumerEpoch(c.name, mappingId);
        if (e !== undefined) out.push(e);
      }
    });
    return out.sort((a, b) => a - b);
  }

  private async streamInfo(stream: string): Promise<Awaited<ReturnType<JetStreamManager['streams']['info']>>> {
    return this.wrap(`reading stream ${stream}`, () => this.jsm.streams.info(stream));
  }

  private config(name: string, subjectFilter: string, startSeq: number, description: string): Partial<ConsumerConfig> {
    return {
      durable_name: name,
      description,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSeq,
      ...(subjectFilter ? { filter_subject: subjectFilter } : {}),
      ack_wait: this.options.ackWaitMs * 1_000_000,
      max_deliver: -1,
      max_ack_pending: this.options.maxAckPending,
    };
  }

  /** Runs a JetStream call, turning "no such stream" and a bad filter into errors that say what to do. */
  private async wrap<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if (notFound(err, JetStreamApiCodes.StreamNotFound)) {
        throw new StratusError('ResourceNotFound', `${what} failed: the stream does not exist; create it (or the table or bucket) first, or delete the mapping`, { cause: err });
      }
      if (err instanceof JetStreamApiError && err.code === FILTER_NOT_IN_STREAM) {
        throw new StratusError('InvalidRequest', `${what} failed: the subject filter is not within the stream's subjects; pick a filter the stream captures`, { cause: err });
      }
      throw natsFailure(what, err);
    }
  }
}
