import type { GetInvocationResponse, InvocationRecord as InvocationRecordPb, ListInvocationsResponse, LogLine } from '../../proto/gen/stratus/v1/observability';
import type { LogEntry, LogLevel, LogSource } from '../core/function-logs';
import type { InvocationRecord, InvocationStatus, InvocationTrigger } from '../core/invocation-record';
import type { RouterTransport } from './router-transport';

/** What `logs()` reads. */
export interface LogsOptions {
  /** From this time (epoch ms or Date); default: the oldest line kept. */
  since?: number | Date;
  until?: number | Date;
  /** Keep the iterator open and yield new lines as they are written, until `signal` aborts or the loop breaks. */
  follow?: boolean;
  requestId?: string;
  /** Lines containing this text (case-insensitive). */
  filter?: string;
  /** The newest this many lines (without follow). */
  limit?: number;
  signal?: AbortSignal;
}

/** What `invocations.list()` selects. */
export interface ListInvocationsOptions {
  since?: number | Date;
  until?: number | Date;
  statuses?: InvocationStatus[];
  trigger?: InvocationTrigger;
  /** Newest this many (default 100). */
  limit?: number;
}

function ms(t: number | Date | undefined): number {
  return t === undefined ? 0 : typeof t === 'number' ? t : t.getTime();
}

/** A wire line as a LogEntry. */
export function logEntryFromPb(l: LogLine): LogEntry {
  return { timeMs: l.timeMs, requestId: l.requestId, level: l.level as LogLevel | '', source: l.source as LogSource, message: l.message, instanceId: l.instanceId, agentId: l.agentId, droppedLines: l.droppedLines };
}

function recordFromPb(r: InvocationRecordPb): InvocationRecord {
  return { ...r, trigger: r.trigger as InvocationTrigger, status: r.status as InvocationStatus, initDurationMs: r.initDurationMs };
}

/** A function's log lines, in the order they were written; see StratusClient.logs. */
export async function* readLogs(t: RouterTransport, functionName: string, o: LogsOptions): AsyncGenerator<LogEntry> {
  const req = { functionName, sinceMs: ms(o.since), untilMs: ms(o.until), follow: o.follow ?? false, requestId: o.requestId ?? '', filter: o.filter ?? '', limit: o.limit ?? 0 };
  for await (const batch of t.serverStream<{ lines: LogLine[] }>('TailLogs', o.signal, (s, md) => s.logs.tailLogs(req, md))) {
    for (const line of batch.lines) yield logEntryFromPb(line);
  }
}

/** Invocation records (client.invocations). */
export class InvocationsClient {
  constructor(private readonly t: RouterTransport) {}

  /** The newest records of a function (or, with '' , of every function the caller may read), newest first. */
  async list(functionName: string, o: ListInvocationsOptions = {}): Promise<{ invocations: InvocationRecord[]; truncated: boolean }> {
    const req = { functionName, sinceMs: ms(o.since), untilMs: ms(o.until), statuses: o.statuses ?? [], trigger: o.trigger ?? '', limit: o.limit ?? 0 };
    // Reading a long retention can take longer than an ordinary call.
    const res = await this.t.call<ListInvocationsResponse>('read', 'ListInvocations', Date.now() + Math.max(this.t.defaultTimeoutMs, 60_000), undefined, (s, md, opts, cb) => s.invocations.listInvocations(req, md, opts, cb));
    return { invocations: res.invocations.map(recordFromPb), truncated: res.truncated };
  }

  /** One invocation's record and its log lines; ResourceNotFound when no record has that id. */
  async get(requestId: string, o: { functionName?: string; since?: number | Date } = {}): Promise<{ invocation: InvocationRecord; lines: LogEntry[] }> {
    const req = { requestId, functionName: o.functionName ?? '', sinceMs: ms(o.since) };
    const res = await this.t.call<GetInvocationResponse>('read', 'GetInvocation', Date.now() + Math.max(this.t.defaultTimeoutMs, 60_000), undefined, (s, md, opts, cb) => s.invocations.getInvocation(req, md, opts, cb));
    if (!res.invocation) throw new Error('the router answered without a record');
    return { invocation: recordFromPb(res.invocation), lines: res.lines.map(logEntryFromPb) };
  }
}
