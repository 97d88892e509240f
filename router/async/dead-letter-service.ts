import type { DeadLetter, DeadLetterServiceServer } from '../../proto/gen/stratus/v1/dead_letters';
import { validateFunctionName } from '../../sdk/core/function-config';
import { unary, type HandlerContext } from '../grpc-handler';
import type { Action } from '../../sdk/core/access';
import { DEFAULT_TENANT, tenantOf, type Principal } from '../../sdk/core/identity';
import type { FunctionCache } from '../functions/function-cache';
import type { DeadLetterEntry, DeadLetters } from './dead-letters';

function toPb(e: DeadLetterEntry): DeadLetter {
  return {
    sequence: e.sequence,
    functionName: e.functionName,
    requestId: e.requestId,
    condition: e.condition,
    approximateInvokeCount: e.approximateInvokeCount,
    errorType: e.errorType,
    errorMessage: e.errorMessage,
    timeMs: e.timeMs,
    record: e.record,
  };
}

/** DeadLetterService: list, show, redrive and purge a function's dead letters; they are part of the function, read and managed as it is. */
export function createDeadLetterService(ctx: HandlerContext, dlq: DeadLetters, watchAsync: (fn: string) => void, functions: FunctionCache): DeadLetterServiceServer {
  /** The function's name, once the caller may do `action` on it. Dead letters of a deleted function stay the default tenant's (administrators'). */
  const authorized = async (caller: Principal, action: Action, written: string): Promise<string> => {
    const name = validateFunctionName(written);
    const record = await functions.get(name);
    await ctx.access.authorize(caller, action, { kind: 'function', name, tenant: record ? tenantOf(record) : DEFAULT_TENANT });
    return name;
  };
  return {
    listDeadLetters: unary(ctx, 'stratus.DeadLetterService/ListDeadLetters', async (req, _span, caller) => {
      const max = req.maxItems > 0 ? Math.min(req.maxItems, 1000) : 100;
      const page = await dlq.list(await authorized(caller, 'function:read', req.functionName), req.afterSequence, max);
      return { deadLetters: page.entries.map(toPb), nextAfterSequence: page.next };
    }),
    getDeadLetter: unary(ctx, 'stratus.DeadLetterService/GetDeadLetter', async (req, _span, caller) => toPb(await dlq.get(await authorized(caller, 'function:read', req.functionName), req.sequence))),
    redriveDeadLetters: unary(ctx, 'stratus.DeadLetterService/RedriveDeadLetters', async (req, _span, caller) => {
      const fn = await authorized(caller, 'function:write', req.functionName);
      const ids = await dlq.redrive(fn, req.sequences);
      watchAsync(fn);
      return { redriven: ids.length, requestIds: ids };
    }),
    purgeDeadLetters: unary(ctx, 'stratus.DeadLetterService/PurgeDeadLetters', async (req, _span, caller) => ({ purged: await dlq.purge(await authorized(caller, 'function:write', req.functionName)) })),
  };
}
