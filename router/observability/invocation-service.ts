import type { InvocationRecord as InvocationRecordPb, InvocationServiceServer, LogLine } from '../../proto/gen/stratus/v1/observability';
import { StratusError } from '../../sdk/core/errors';
import { validateFunctionName } from '../../sdk/core/function-config';
import { tenantOf, type Principal } from '../../sdk/core/identity';
import { parseStatuses, parseTrigger, type InvocationRecord } from '../../sdk/core/invocation-record';
import type { AccessControl } from '../auth/access-control';
import { unary, type HandlerContext } from '../grpc-handler';
import type { InvocationRecords } from './invocation-records';
import { logLineToPb, readLogs, type LogServiceDeps } from './log-service';

/** A record on the wire. */
export function invocationRecordToPb(r: InvocationRecord): InvocationRecordPb {
  return { ...r, initDurationMs: r.initDurationMs };
}

/** Who may see a record: whoever may read its function. */
function visibleTo(access: AccessControl, caller: Principal): (r: InvocationRecord) => boolean {
  return (r) => access.checkNow(caller, 'function:read', { kind: 'function', name: r.functionName, tenant: r.tenant }).allowed;
}

/** Lines written this long before an invocation started or after it ended still belong to it (clock skew between router and agent). */
const LOG_WINDOW_SLACK_MS = 5_000;

/** InvocationService: recent invocation records, by function, time, status and trigger; one record with its lines. */
export function createInvocationService(ctx: HandlerContext, records: InvocationRecords, logs: LogServiceDeps): InvocationServiceServer {
  return {
    listInvocations: unary(ctx, 'stratus.InvocationService/ListInvocations', async (req, _span, caller) => {
      const fn = req.functionName ? validateFunctionName(req.functionName) : '';
      if (fn) {
        const record = await logs.functions.get(fn);
        // A deleted function's records are still readable by whoever could read it: judged by the records' tenant.
        if (record) await ctx.access.authorize(caller, 'function:read', { kind: 'function', name: fn, tenant: tenantOf(record) });
      }
      const limit = req.limit === 0 ? 100 : Math.min(req.limit, 10_000);
      const controller = new AbortController();
      const { records: found, truncated } = await records.list(fn, { sinceMs: req.sinceMs, untilMs: req.untilMs, statuses: parseStatuses(req.statuses), trigger: parseTrigger(req.trigger) }, limit, visibleTo(ctx.access, caller), controller.signal);
      return { invocations: found.map(invocationRecordToPb), truncated };
    }),
    getInvocation: unary(ctx, 'stratus.InvocationService/GetInvocation', async (req, _span, caller) => {
      if (!req.requestId) throw new StratusError('InvalidRequest', 'give the request id of the invocation (stratus invocations <function> lists them)');
      const fn = req.functionName ? validateFunctionName(req.functionName) : '';
      const controller = new AbortController();
      const found = await records.find(req.requestId, fn, req.sinceMs, visibleTo(ctx.access, caller), controller.signal);
      if (!found) throw new StratusError('ResourceNotFound', `no invocation record with request id ${req.requestId}${fn ? ` for '${fn}'` : ''}: records are kept for a limited time (STRATUS_INVOCATION_RETENTION_DAYS); check the id with stratus invocations <function>`);
      const lines: LogLine[] = [];
      const from = found.startMs - LOG_WINDOW_SLACK_MS;
      const until = found.startMs + found.durationMs + (found.initDurationMs ?? 0) + LOG_WINDOW_SLACK_MS + 60_000;
      await readLogs(logs, found.functionName, { sinceMs: from, untilMs: until, requestId: found.requestId, filter: '' }, { follow: false, limit: 0, signal: controller.signal }, async (batch) => {
        lines.push(...batch.map(logLineToPb));
      // A record outlives its lines (a deleted function's stream goes with it): the record alone is still the answer.
      }).catch(() => undefined);
      return { invocation: invocationRecordToPb(found), lines };
    }),
  };
}
