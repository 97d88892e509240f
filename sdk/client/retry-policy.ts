import { backoffMs } from '../core/deadline';
import type { StratusError } from '../core/errors';

/** Which failures a call may retry: reads anything transient, invocations only what never ran. */
export type RetryClass = 'read' | 'invoke' | 'write';

/** Whether a call of class `cls` that failed with `err` may be sent again. */
export function retryableFor(cls: RetryClass, err: StratusError): boolean {
  switch (cls) {
    case 'read':
      return err.code === 'ServiceUnavailable' || err.code === 'TooManyRequests';
    case 'invoke':
      // A throttle and "no agents" are refusals before anything ran; a lost agent may have run it.
      return err.code === 'TooManyRequests' && err.retryable;
    case 'write':
      return false;
    default: {
      const unreachable: never = cls;
      return unreachable;
    }
  }
}

/** What the transport does after a failed attempt: wait and try again, or give up. */
export type RetryDecision = { kind: 'retry'; delayMs: number } | { kind: 'stop' };

/** The facts {@link nextRetry} decides on; plain data so the policy is tested without I/O. */
export interface RetryState {
  /** The attempt that just failed, from 0. */
  attempt: number;
  maxAttempts: number;
  /** A throttle's hint from the server; the delay is never shorter. */
  retryAfterMs?: number;
  /** The call's absolute deadline (Infinity for none). */
  deadline: number;
  now: number;
  backoffBaseMs: number;
  backoffCapMs: number;
  random?: () => number;
}

/**
 * Whether to try again after a failed attempt and after how long: never past the attempt limit,
 * and never when the wait alone would reach the deadline (the retry could not finish in time).
 */
export function nextRetry(s: RetryState): RetryDecision {
  if (s.attempt + 1 >= s.maxAttempts) return { kind: 'stop' };
  const delayMs = Math.max(s.retryAfterMs ?? 0, backoffMs(s.attempt, s.backoffBaseMs, s.backoffCapMs, s.random));
  if (s.now + delayMs >= s.deadline) return { kind: 'stop' };
  return { kind: 'retry', delayMs };
}
