/**
 * The record a function receives for each stream message, as plain functions over plain data.
 * A batch event is `{"Records":[record, …]}`; one record:
 *
 *   {
 *     "eventSource": "stratus:jetstream",
 *     "eventSourceArn": "arn:stratus:jetstream:local:000000000000:stream/ORDERS",
 *     "eventName": "stratus:jetstream:record",
 *     "eventVersion": "1.0",
 *     "eventID": "ORDERS:42",
 *     "stream": "ORDERS",
 *     "subject": "orders.created",
 *     "sequence": "42",              a string, as Kinesis' sequenceNumber: the itemIdentifier of batchItemFailures
 *     "key": "customer-7",           the ordering key; null when the mapping is unordered or the record has none
 *     "data": "eyJpZCI6N30=",        the payload, base64 (always, as Kinesis)
 *     "json": {"id": 7},             the payload parsed, only when it is UTF-8 JSON
 *     "headers": {"Nats-Msg-Id": "a1"},   several values of one name joined by ","
 *     "timestamp": "2025-01-01T12:00:00.123Z",   when the stream stored it
 *     "approximateArrivalTimestamp": 1735732800.123   the same, in epoch seconds (Kinesis' field)
 *   }
 */
import type { OrderingKey } from '../../sdk/core/mapping-config';

/** A stream message in plain data. */
export interface RawRecord {
  stream: string;
  subject: string;
  seq: number;
  data: Uint8Array;
  headers: Record<string, string>;
  timestampMs: number;
}

/** A payload as records carry it: base64 always, the parsed JSON when it parses. */
export interface DecodedData {
  base64: string;
  isJson: boolean;
  json: unknown;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a payload once, for the record and for a JSON ordering key. */
export function decodeData(bytes: Uint8Array): DecodedData {
  const base64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  if (bytes.length === 0) return { base64, isJson: false, json: undefined };
  try {
    return { base64, isJson: true, json: JSON.parse(utf8.decode(bytes)) };
  } catch {
    return { base64, isJson: false, json: undefined };
  }
}

function lookup(value: unknown, path: string): unknown {
  let cur = value;
  for (const token of path.split('.')) {
    if (Array.isArray(cur) && /^\d+$/.test(token)) cur = cur[Number(token)];
    else if (cur !== null && typeof cur === 'object' && Object.prototype.hasOwnProperty.call(cur, token)) cur = (cur as Record<string, unknown>)[token];
    else return undefined;
  }
  return cur;
}

/**
 * A record's ordering key, or null when it has none (no such header, path missing or the data
 * is not JSON). Records without a key are ordered among themselves, as one key.
 */
export function orderingKeyOf(raw: RawRecord, data: DecodedData, key: OrderingKey): string | null {
  switch (key.kind) {
    case 'none':
      return null;
    case 'subject':
      return raw.subject;
    case 'header':
      return raw.headers[key.name] ?? null;
    case 'json': {
      if (!data.isJson) return null;
      const v = lookup(data.json, key.path);
      if (v === undefined || v === null) return null;
      return typeof v === 'string' ? v : JSON.stringify(v);
    }
    default: {
      const unknown: never = key;
      return unknown;
    }
  }
}

/** The record of one stream message (see the file comment). */
export function streamRecord(raw: RawRecord, data: DecodedData, key: string | null, eventSourceArn: string): Record<string, unknown> {
  const rec: Record<string, unknown> = {
    eventSource: 'stratus:jetstream',
    eventSourceArn,
    eventName: 'stratus:jetstream:record',
    eventVersion: '1.0',
    eventID: `${raw.stream}:${raw.seq}`,
    stream: raw.stream,
    subject: raw.subject,
    sequence: String(raw.seq),
    key,
    data: data.base64,
  };
  if (data.isJson) rec.json = data.json;
  rec.headers = raw.headers;
  rec.timestamp = new Date(raw.timestampMs).toISOString();
  rec.approximateArrivalTimestamp = raw.timestampMs / 1000;
  return rec;
}

/** Wraps serialised records into a batch event. */
export function batchEvent(records: readonly string[]): string {
  return `{"Records":[${records.join(',')}]}`;
}

/** Bytes of a batch event around its records. */
export const BATCH_ENVELOPE_BYTES = Buffer.byteLength(batchEvent([]));
