import { randomUUID } from 'node:crypto';
import { toStratusError } from '../../sdk/core/errors';
import { functionArn, type FunctionRecord } from '../../sdk/core/function-config';
import type { FunctionCache } from '../functions/function-cache';
import type { SyncInvocation, SyncResult } from '../invoke/invoker';
import type { MappingRecord } from '../../sdk/core/mapping-config';
import { parseBatchItemFailures, type InvokeOutcome } from './batch-policy';

/** What the batch invoker needs of the router's invoker: one synchronous invocation. */
export interface SyncInvoke {
  invoke(inv: SyncInvocation): Promise<SyncResult>;
}

/** One invocation of a batch: how it ended, plus what a failure record needs. */
export interface BatchInvocation {
  outcome: InvokeOutcome;
  requestId: string;
  /** The function's error object when it failed. */
  functionError?: Uint8Array;
  /** The function's response when it returned but reported failed items. */
  response?: Uint8Array;
  /** The platform's error when the function did not run (throttle, agent lost, function gone). */
  platformError?: { errorType: string; errorMessage: string };
  /** One line for the mapping's last processing result. */
  summary: string;
}

/** The mapping a batch belongs to. */
export type MappingRef = Pick<MappingRecord, 'id' | 'source'>;

/** Why a mapping may not invoke its function, or undefined when it may. */
export type MappingRefusal = (mapping: MappingRef, record: FunctionRecord) => string | undefined;

/** Options for {@link BatchInvoker}. */
export interface BatchInvokerOptions {
  region: string;
  accountId: string;
  /** Time allowed beyond the function timeout for placement and cold start. */
  invokeSlackMs: number;
}

/**
 * Invokes a mapping's function synchronously with a batch event and classifies the outcome:
 * a throttle or platform failure (the function did not run, or may not have finished: no retry
 * attempt is used), a function error, or a return value (read as a partial batch response when
 * the mapping reports batch item failures).
 */
export class BatchInvoker {
  constructor(
    private readonly cache: Pick<FunctionCache, 'get'>,
    private readonly invoker: SyncInvoke,
    private readonly options: BatchInvokerOptions,
    /** Why `mapping` may not (or no longer) invoke the function (its tenant lost the grant), or undefined when it may. */
    private readonly refusal: MappingRefusal = () => undefined,
  ) {}

  /** Runs one batch of `mapping`; never throws. */
  async invoke(functionName: string, event: Buffer, seqs: readonly number[], reportItemFailures: boolean, mapping?: MappingRef): Promise<BatchInvocation> {
    const requestId = randomUUID();
    const record = await this.cache.get(functionName).catch(() => undefined);
    if (!record) {
      const errorMessage = `function '${functionName}' does not exist: deploy it again or delete the mapping`;
      return { outcome: { kind: 'throttled' }, requestId, platformError: { errorType: 'FunctionNotFound', errorMessage }, summary: `PROBLEM: ${errorMessage}` };
    }
    // As a Lambda mapping that lost its permission: the batch waits in the source and is retried with backoff.
    const refused = mapping ? this.refusal(mapping, record) : undefined;
    if (refused) return { outcome: { kind: 'throttled' }, requestId, platformError: { errorType: 'AccessDenied', errorMessage: refused }, summary: `PROBLEM: AccessDenied: ${refused}`.slice(0, 300) };
    let result: SyncResult;
    try {
      result = await this.invoker.invoke({
        requestId,
        record,
        payload: event,
        deadlineMs: Date.now() + record.config.timeoutSeconds * 1000 + this.options.invokeSlackMs,
        tailLogs: false,
        clientContext: '',
        invokedFunctionArn: functionArn(this.options.region, this.options.accountId, functionName),
        origin: { trigger: 'mapping', source: mapping?.id ?? '' },
      });
    } catch (err) {
      const e = toStratusError(err);
      return { outcome: { kind: 'throttled' }, requestId, platformError: { errorType: e.code, errorMessage: e.message }, summary: `PROBLEM: ${e.code}: ${e.message}` };
    }
    if (result.functionFailed) {
      return { outcome: { kind: 'functionError' }, requestId, functionError: result.payload, summary: `PROBLEM: function error: ${result.errorType}: ${result.errorMessage}`.slice(0, 300) };
    }
    if (!reportItemFailures) return { outcome: { kind: 'returned', items: { kind: 'success' } }, requestId, summary: 'OK' };
    const items = parseBatchItemFailures(result.payload, seqs);
    const summary = items.kind === 'success' ? 'OK' : items.kind === 'partial' ? `PROBLEM: the function reported failed items from sequence ${items.fromSeq}` : `PROBLEM: invalid batch response (${items.reason}): the whole batch is retried`;
    return { outcome: { kind: 'returned', items }, requestId, response: items.kind === 'success' ? undefined : result.payload, summary };
  }
}
