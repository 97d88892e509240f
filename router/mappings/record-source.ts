import type { JetStreamManager } from '@nats-io/jetstream';
import type { MappingRecord } from '../../sdk/core/mapping-config';
import { previousRevision } from './previous-value';
import { bucketRecord, kvChange, objectMeta, tableRecord } from './change-records';
import { decodeData, orderingKeyOf, streamRecord, type RawRecord } from './stream-records';

/** A stream message turned into what the poller schedules and sends. */
export interface DecodedRecord {
  /** Ordering key; null when the record has none. */
  key: string | null;
  /** The record as JSON text, ready to go into a batch event. */
  json: string;
}

/** Turns a mapping's stream messages into records; undefined for a message that is no record (it is acknowledged and counted). */
export type RecordDecoder = (raw: RawRecord) => Promise<DecodedRecord | undefined>;

/**
 * The decoder for a mapping's source kind: stream records (stream-records.ts), table changes
 * with the previous value read from the table (table-records.ts), or object changes.
 */
export function recordDecoder(mapping: MappingRecord, eventSourceArn: string, jsm: JetStreamManager): RecordDecoder {
  const { source, settings } = mapping;
  switch (source.kind) {
    case 'stream':
      return async (raw) => {
        const data = decodeData(raw.data);
        const key = orderingKeyOf(raw, data, settings.orderingKey);
        return { key, json: JSON.stringify(streamRecord(raw, data, key, eventSourceArn)) };
      };
    case 'table':
      return async (raw) => {
        const change = kvChange(raw, source.name);
        // A purge removed every earlier revision: there is nothing to read.
        const previous = change.operation === 'PURGE' ? undefined : await previousRevision(jsm, raw.stream, raw.subject, raw.seq);
        return { key: change.key, json: JSON.stringify(tableRecord(change, previous, eventSourceArn)) };
      };
    case 'bucket':
      return async (raw) => {
        const meta = objectMeta(raw);
        if (!meta) return undefined;
        return { key: meta.name, json: JSON.stringify(bucketRecord(raw, source.name, meta, eventSourceArn)) };
      };
    default: {
      const unknown: never = source.kind;
      return unknown;
    }
  }
}
