import { randomUUID } from 'node:crypto';
import type { ServerUnaryCall, sendUnaryData } from '@grpc/grpc-js';
import {
  LogType,
  type InvokeRequest,
  type InvokeResponse,
  type InvokeServiceServer,
} from '../../proto/gen/stratus/v1/invoke';
import { StratusError } from '../../sdk/core/errors';
import { functionArn, validateFunctionName } from '../../sdk/core/function-config';
import { requireJsonPayload } from '../../sdk/core/json-payload';
import { LIMITS } from '../../sdk/core/limits';
import { depthAfter, tenantOf } from '../../sdk/core/identity';
import type { FunctionCache } from '../functions/function-cache';
import type { InvokeTargets } from '../functions/invoke-target';
import { unary, type HandlerContext } from '../grpc-handler';
import type { Invoker } from './invoker';

/** Dependencies of the invoke API. */
export interface InvokeServiceDeps {
  cache: FunctionCache;
  /** Resolves the qualifier ($LATEST, a version, an alias) a call names. */
  targets: Pick<InvokeTargets, 'resolve'>;
  invoker: Invoker;
  region: string;
  accountId: string;
  /** Time allowed on top of the function timeout when the caller sets no deadline (cold start, transit). */
  defaultDeadlineSlackMs: number;
  /** Counts synchronous calls the recursion guard stopped (stratus_recursion_stopped_total). */
  countRecursionStopped?: (functionName: string) => void;
  /** InvokeAsync and InvokeAsyncBatch (router/async/async-intake.ts). */
  asyncIntake: Pick<InvokeServiceServer, 'invokeAsync' | 'invokeAsyncBatch'>;
}

/** InvokeService: synchronous invocation through placement; the asynchronous calls come from `deps.asyncIntake`. */
export function createInvokeService(ctx: HandlerContext, deps: InvokeServiceDeps): InvokeServiceServer {
  return {
    invoke: (call: ServerUnaryCall<InvokeRequest, InvokeResponse>, callback: sendUnaryData<InvokeResponse>) => {
      const callerDeadline = Number(call.getDeadline());
      // A caller that goes away cancels the invocation on the agent too. grpc-js also reports
      // "cancelled" once a finished call's stream closes: the listener goes as soon as we answer.
      const cancelled = new AbortController();
      const onCancelled = (): void => cancelled.abort();
      call.once('cancelled', onCancelled);
      const answer: sendUnaryData<InvokeResponse> = (err, value) => {
        call.off('cancelled', onCancelled);
        callback(err, value);
      };
      unary<InvokeRequest, InvokeResponse>(ctx, 'stratus.InvokeService/Invoke', async (req, span, caller) => {
        const name = validateFunctionName(req.functionName);
        span.setAttribute('faas.invoked_name', name);
        if (req.payload.length > LIMITS.maxSyncPayloadBytes) {
          throw new StratusError('PayloadTooLarge', `the payload is ${req.payload.length} bytes, over the ${LIMITS.maxSyncPayloadBytes}-byte limit for synchronous invocations: send a reference to the data instead`);
        }
        const record = await deps.targets.resolve(name, req.qualifier);
        await ctx.access.authorize(caller, 'function:invoke', { kind: 'function', name, tenant: tenantOf(record) });
        // Lambda's DryRun: the caller may invoke and the function exists; nothing runs.
        if (req.dryRun) return { requestId: '', executedVersion: record.version, payload: Buffer.alloc(0), logTail: '', statusCode: 204, functionError: undefined, report: undefined };
        requireJsonPayload(req.payload, 'payload');
        if (record.config.reservedConcurrency === 0) {
          throw new StratusError('TooManyRequests', `function '${name}' is stopped: its reserved concurrency is 0; raise it to invoke the function`, { retryable: false });
        }
        const requestId = randomUUID();
        span.setAttribute('faas.invocation_id', requestId);
        const fallback = Date.now() + record.config.timeoutSeconds * 1000 + deps.defaultDeadlineSlackMs;
        const deadlineMs = Number.isFinite(callerDeadline) ? callerDeadline : fallback;
        const result = await deps.invoker.invoke({
          requestId,
          record,
          payload: req.payload,
          deadlineMs,
          tailLogs: req.logType === LogType.LOG_TYPE_TAIL,
          clientContext: req.clientContext,
          invokedFunctionArn: functionArn(deps.region, deps.accountId, name, req.qualifier || undefined),
          signal: cancelled.signal,
          depth: depthAfter(caller),
        }).catch((err: unknown) => {
          if (err instanceof StratusError && err.code === 'RecursiveInvocation') deps.countRecursionStopped?.(name);
          throw err;
        });
        span.setAttribute('faas.coldstart', result.coldStart);
        return {
          requestId,
          statusCode: 200,
          executedVersion: record.version,
          payload: result.payload,
          functionError: result.functionFailed
            ? { kind: 'Unhandled', errorType: result.errorType, errorMessage: result.errorMessage, stackTrace: result.stackTrace }
            : undefined,
          logTail: req.logType === LogType.LOG_TYPE_TAIL ? result.logTail : '',
          report: {
            durationMs: result.durationMs,
            billedDurationMs: result.billedDurationMs,
            initDurationMs: result.initDurationMs,
            memorySizeMb: record.config.memoryMb,
            maxMemoryUsedMb: result.maxMemoryUsedMb,
            coldStart: result.coldStart,
            agentId: result.agentId,
          },
        };
      })(call, answer);
    },
    ...deps.asyncIntake,
  };
}
