// What server and clients both say about a table (router/tables, sdk/client/table-client.ts).

/** A table: a JetStream KV bucket whose changes can trigger functions. */
export interface TableInfo {
  name: string;
  /** Revisions kept per key (the previous value of a change comes from them). */
  history: number;
  /** The stream underneath (KV_<name>): any NATS client can use the bucket directly. */
  stream: string;
  items: number;
  bytes: number;
  description: string;
}
