import type { LogLine, LogServiceServer, TailLogsRequest } from '../../proto/gen/stratus/v1/observability';
import { StratusError } from '../../sdk/core/errors';
import { validateFunctionName } from '../../sdk/core/function-config';
import { matchesQuery, type LogEntry, type LogQuery } from '../../sdk/core/function-logs';
import { tenantOf } from '../../sdk/core/identity';
import { decodeLogBatch } from '../../sdk/platform/log-batch';
import { logStreamName, logSubject } from '../../sdk/platform/nats-layout';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { FunctionCache } from '../functions/function-cache';
import { serverStream, type HandlerContext } from '../grpc-handler';
import type { LogStreams } from './log-streams';
import { readStream } from './stream-reader';

/** What the log service reads from. */
export interface LogServiceDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  functions: FunctionCache;
  streams: LogStreams;
}

/** Most lines one answer message carries. */
const LINES_PER_MESSAGE = 500;

/** A log entry on the wire. */
export function logLineToPb(e: LogEntry): LogLine {
  return { timeMs: e.timeMs, requestId: e.requestId, level: e.level, source: e.source, message: e.message, instanceId: e.instanceId, agentId: e.agentId, droppedLines: e.droppedLines };
}

/**
 * Reads a function's log lines matching `q`, in stored order, handing each batch of matches to
 * `emit`; a limit keeps the newest `limit` when not following (they are sent at the end).
 */
export async function readLogs(deps: LogServiceDeps, fn: string, q: LogQuery, opts: { follow: boolean; limit: number; signal: AbortSignal }, emit: (lines: LogEntry[]) => Promise<void>): Promise<void> {
  const newest: LogEntry[] = [];
  for await (const m of readStream(deps.js, deps.jsm, { stream: logStreamName(fn), subject: logSubject(fn), sinceMs: q.sinceMs, follow: opts.follow, signal: opts.signal })) {
    const lines = decodeLogBatch(m.data).filter((e) => matchesQuery(e, q));
    // Batches were stored after their lines were written: one stored well past the end holds none of the range.
    if (q.untilMs > 0 && m.storedMs > q.untilMs + 60_000) break;
    if (lines.length === 0) continue;
    if (opts.limit > 0 && !opts.follow) {
      newest.push(...lines);
      if (newest.length > opts.limit * 2) newest.splice(0, newest.length - opts.limit);
      continue;
    }
    await emit(lines);
  }
  if (newest.length > 0) await emit(newest.slice(-opts.limit));
}

/** LogService: a function's log stream, read or followed from any router. */
export function createLogService(ctx: HandlerContext, deps: LogServiceDeps): LogServiceServer {
  return {
    tailLogs: serverStream(ctx, 'stratus.LogService/TailLogs', async (req: TailLogsRequest, write, signal, caller, span) => {
      const fn = validateFunctionName(req.functionName);
      span.setAttribute('faas.name', fn);
      const record = await deps.functions.get(fn);
      if (!record) throw new StratusError('FunctionNotFound', `function '${fn}' does not exist: check the name with stratus ls`);
      await ctx.access.authorize(caller, 'function:read', { kind: 'function', name: fn, tenant: tenantOf(record) });
      // Following a function nothing invoked yet: its stream is made now, so the first lines arrive.
      await deps.streams.ensure(record);
      if (req.limit < 0 || req.sinceMs < 0) throw new StratusError('InvalidRequest', 'since and limit must not be negative');
      let sent = 0;
      await readLogs(deps, fn, { sinceMs: req.sinceMs, untilMs: req.untilMs, requestId: req.requestId, filter: req.filter }, { follow: req.follow, limit: req.limit, signal }, async (lines) => {
        for (let i = 0; i < lines.length && !signal.aborted; i += LINES_PER_MESSAGE) {
          const chunk = lines.slice(i, i + LINES_PER_MESSAGE);
          await write({ lines: chunk.map(logLineToPb) });
          sent += chunk.length;
        }
      });
      span.setAttribute('stratus.logs.lines', sent);
    }),
  };
}
