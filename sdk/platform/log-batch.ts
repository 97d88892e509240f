/**
 * The message a batch of log lines travels in, from the agent that wrote them to the routers that
 * stream them: JSON with short keys, one object per line, in the order the lines were written.
 */
import type { LogEntry, LogLevel, LogSource } from '../core/function-logs';

interface WireEntry {
  t: number;
  r?: string;
  l?: LogLevel;
  s: LogSource;
  m: string;
  i?: string;
  d?: number;
}

interface WireBatch {
  a: string;
  e: WireEntry[];
}

/** A batch of one agent's lines as a message body. */
export function encodeLogBatch(entries: readonly LogEntry[]): Uint8Array {
  const agent = entries[0]?.agentId ?? '';
  const e = entries.map((x): WireEntry => {
    const w: WireEntry = { t: x.timeMs, s: x.source, m: x.message };
    if (x.requestId) w.r = x.requestId;
    if (x.level) w.l = x.level;
    if (x.instanceId) w.i = x.instanceId;
    if (x.droppedLines) w.d = x.droppedLines;
    return w;
  });
  return Buffer.from(JSON.stringify({ a: agent, e } satisfies WireBatch));
}

/** The lines of a batch message; a message that is not one gives none (it is skipped, not fatal). */
export function decodeLogBatch(data: Uint8Array): LogEntry[] {
  let batch: WireBatch;
  try {
    batch = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as WireBatch;
  } catch {
    return [];
  }
  if (!batch || !Array.isArray(batch.e)) return [];
  return batch.e.map((w) => ({
    timeMs: Number(w.t) || 0,
    requestId: w.r ?? '',
    level: w.l ?? '',
    source: w.s ?? 'stdout',
    message: String(w.m ?? ''),
    instanceId: w.i ?? '',
    agentId: batch.a ?? '',
    droppedLines: w.d ?? 0,
  }));
}
