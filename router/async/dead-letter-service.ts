import type { DeadLetter, DeadLetterServiceServer } from '../../proto/gen/stratus/v1/dead_letters';
import { validateFunctionName } from '../../sdk/core/function-config';
import { unary, type HandlerContext } from '../grpc-handler';
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

/** DeadLetterService: list, show, redrive and purge a function's dead letters. */
export function createDeadLetterService(ctx: HandlerContext, dlq: DeadLetters, watchAsync: (fn: string) => void): DeadLetterServiceServer {
  return {
    listDeadLetters: unary(ctx, 'stratus.DeadLetterService/ListDeadLetters', async (req) => {
      const max = req.maxItems > 0 ? Math.min(req.maxItems, 1000) : 100;
      const page = await dlq.list(validateFunctionName(req.functionName), req.afterSequence, max);
      return { deadLetters: page.entries.map(toPb), nextAfterSequence: page.next };
    }),
    getDeadLetter: unary(ctx, 'stratus.DeadLetterService/GetDeadLetter', async (req) => toPb(await dlq.get(validateFunctionName(req.functionName), req.sequence))),
    redriveDeadLetters: unary(ctx, 'stratus.DeadLetterService/RedriveDeadLetters', async (req) => {
      const fn = validateFunctionName(req.functionName);
      const ids = await dlq.redrive(fn, req.sequences);
      watchAsync(fn);
      return { redriven: ids.length, requestIds: ids };
    }),
    purgeDeadLetters: unary(ctx, 'stratus.DeadLetterService/PurgeDeadLetters', async (req) => ({ purged: await dlq.purge(validateFunctionName(req.functionName)) })),
  };
}
