import { context, type Context } from '@opentelemetry/api';
import type { InvokeAsyncBatchResponse, InvokeAsyncRequest } from '../../proto/gen/stratus/v1/invoke';
import { isErrorCode, StratusError } from '../core/errors';
import { LIMITS } from '../core/limits';

/** One event for {@link AsyncBatcher}; `requestId` is always set (by the caller or the SDK). */
export interface BatchedEvent {
  request: InvokeAsyncRequest;
  /** The SDK made the request id up: a "duplicate" answer can then only mean our own earlier attempt. */
  generatedId: boolean;
  deadlineMs: number;
}

/** Sends one batch; rejects with a StratusError when the call as a whole fails. */
export type SendBatch = (entries: InvokeAsyncRequest[], deadlineMs: number) => Promise<InvokeAsyncBatchResponse>;

/** Limits of one batch. */
export interface BatchLimits {
  maxEntries: number;
  /** Sum of payload bytes; kept well under the gRPC message limit, which also carries names and ids. */
  maxBytes: number;
}

export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxEntries: LIMITS.maxAsyncBatchEntries, maxBytes: 6 * 1024 * 1024 };

interface Waiting {
  event: BatchedEvent;
  resolve: (accepted: { requestId: string; duplicate: boolean }) => void;
  reject: (err: Error) => void;
}

interface Group {
  waiting: Waiting[];
  bytes: number;
}

/**
 * Coalesces the async invocations a program makes in one turn of the event loop into
 * InvokeAsyncBatch calls: many callers enqueueing at once then cost one round trip and one
 * request for the router to handle instead of one each, while each caller still gets its own
 * answer (or its own error). A lone call waits for nothing but the end of the current turn.
 *
 * Events are grouped by the caller's active trace context, and each group's call runs in it, so
 * an event enqueued inside a span is still traced under that span.
 */
export class AsyncBatcher {
  private readonly groups = new Map<Context, Group>();
  private scheduled = false;

  constructor(
    private readonly send: SendBatch,
    private readonly limits: BatchLimits = DEFAULT_BATCH_LIMITS,
  ) {}

  /** Queues an event for the next batch; resolves once the router has accepted it. */
  add(event: BatchedEvent): Promise<{ requestId: string; duplicate: boolean }> {
    return new Promise((resolve, reject) => {
      const ctx = context.active();
      let group = this.groups.get(ctx);
      if (group && (group.waiting.length >= this.limits.maxEntries || group.bytes + event.request.payload.length > this.limits.maxBytes)) {
        this.flushGroup(ctx, group);
        group = undefined;
      }
      if (!group) this.groups.set(ctx, (group = { waiting: [], bytes: 0 }));
      group.waiting.push({ event, resolve, reject });
      group.bytes += event.request.payload.length;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flushAll());
      }
    });
  }

  private flushAll(): void {
    this.scheduled = false;
    for (const [ctx, group] of [...this.groups]) this.flushGroup(ctx, group);
  }

  private flushGroup(ctx: Context, group: Group): void {
    this.groups.delete(ctx);
    const { waiting } = group;
    const deadlineMs = Math.min(...waiting.map((w) => w.event.deadlineMs));
    // Both outcomes are handled here: each waiting caller gets its answer or the batch's error.
    context
      .with(ctx, () => this.send(waiting.map((w) => w.event.request), deadlineMs))
      .then(
        (res) => settleEach(waiting, res),
        (err: unknown) => {
          for (const w of waiting) w.reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
  }
}

/** Hands each caller its own entry of the answer. */
function settleEach(waiting: Waiting[], res: InvokeAsyncBatchResponse): void {
  waiting.forEach((w, i) => {
    const r = res.results[i]?.result;
    if (!r) {
      w.reject(new StratusError('Internal', `the router answered a batch of ${waiting.length} events with ${res.results.length} results: upgrade the router`));
    } else if (r.$case === 'accepted') {
      w.resolve({ requestId: r.value.requestId, duplicate: w.event.generatedId ? false : r.value.duplicate });
    } else {
      w.reject(new StratusError(isErrorCode(r.value.code) ? r.value.code : 'Internal', r.value.message));
    }
  });
}
