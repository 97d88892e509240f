/**
 * Invocation records as plain data: what one invocation did, from whichever entry point, and how a
 * query selects records. The router writes them; `stratus invocations` reads them.
 */
import { StratusError } from './errors';

/** The entry points an invocation can come through. */
export const INVOCATION_TRIGGERS = ['sync', 'async', 'http', 'schedule', 'trigger', 'mapping', 'destination', 'redrive'] as const;
export type InvocationTrigger = (typeof INVOCATION_TRIGGERS)[number];

/** How an invocation ended. */
export const INVOCATION_STATUSES = ['Success', 'Error', 'Timeout', 'Throttled', 'Failed'] as const;
export type InvocationStatus = (typeof INVOCATION_STATUSES)[number];

/** Where an invocation came from, as its entry point tells the invoker. */
export interface InvocationOrigin {
  trigger: InvocationTrigger;
  /** The trigger, schedule, route or mapping id; empty for direct calls. */
  source: string;
  /** When the event was first accepted (async events, mapping records); queue wait counts from here. */
  acceptedAtMs?: number;
  /** Function-error attempts before this one. */
  attempt?: number;
}

/** One invocation. */
export interface InvocationRecord {
  requestId: string;
  functionName: string;
  version: string;
  tenant: string;
  trigger: InvocationTrigger;
  source: string;
  startMs: number;
  durationMs: number;
  initDurationMs: number | undefined;
  queueWaitMs: number;
  coldStart: boolean;
  status: InvocationStatus;
  errorType: string;
  errorMessage: string;
  billedDurationMs: number;
  memoryMb: number;
  maxMemoryUsedMb: number;
  agentId: string;
  attempt: number;
}

/** What a record query selects. */
export interface InvocationQuery {
  sinceMs: number;
  untilMs: number;
  statuses: readonly InvocationStatus[];
  trigger: InvocationTrigger | '';
}

/** The status of an invocation that ran and answered: its function error type decides. */
export function statusOfResult(errorType: string | undefined): InvocationStatus {
  if (!errorType) return 'Success';
  return errorType === 'Sandbox.Timedout' ? 'Timeout' : 'Error';
}

/** The status of an invocation the platform could not complete, by error code. */
export function statusOfFailure(code: string): InvocationStatus {
  if (code === 'TooManyRequests') return 'Throttled';
  if (code === 'Timeout') return 'Timeout';
  return 'Failed';
}

/** Whether a record is one a query selects. */
export function recordMatches(r: InvocationRecord, q: InvocationQuery): boolean {
  if (q.sinceMs > 0 && r.startMs < q.sinceMs) return false;
  if (q.untilMs > 0 && r.startMs >= q.untilMs) return false;
  if (q.statuses.length > 0 && !q.statuses.includes(r.status)) return false;
  if (q.trigger && r.trigger !== q.trigger) return false;
  return true;
}

/** Checks statuses as a caller wrote them (any case); InvalidRequest lists the accepted ones. */
export function parseStatuses(written: readonly string[]): InvocationStatus[] {
  return written.map((w) => {
    const found = INVOCATION_STATUSES.find((s) => s.toLowerCase() === w.trim().toLowerCase());
    if (!found) throw new StratusError('InvalidRequest', `status '${w}': use one of ${INVOCATION_STATUSES.join(', ')}`);
    return found;
  });
}

/** Checks a trigger as a caller wrote it; empty means any. */
export function parseTrigger(written: string): InvocationTrigger | '' {
  if (!written) return '';
  const found = INVOCATION_TRIGGERS.find((t) => t === written.trim().toLowerCase());
  if (!found) throw new StratusError('InvalidRequest', `trigger '${written}': use one of ${INVOCATION_TRIGGERS.join(', ')}`);
  return found;
}
