import { StratusError } from './errors';

/** An absolute point in time (epoch ms) by which a call must finish; computed once at the edge. */
export type Deadline = number;

/** The deadline `timeoutMs` from now. */
export function deadlineIn(timeoutMs: number, now = Date.now()): Deadline {
  return now + timeoutMs;
}

/** Milliseconds left before `deadline` (never negative). */
export function remainingMs(deadline: Deadline, now = Date.now()): number {
  return Math.max(0, deadline - now);
}

/** Throws Timeout when the deadline has passed; `what` names the step for the message. */
export function checkDeadline(deadline: Deadline, what: string): void {
  if (remainingMs(deadline) <= 0) {
    throw new StratusError('Timeout', `deadline exceeded before ${what}: give the call a longer timeout`);
  }
}

/** Resolves after `ms`, or rejects as Cancelled when `signal` aborts first. Someone awaits it, so it keeps the process alive. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new StratusError('Cancelled', 'cancelled'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new StratusError('Cancelled', 'cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Full-jitter exponential backoff: a random delay up to min(cap, base * 2^attempt). */
export function backoffMs(attempt: number, baseMs: number, capMs: number, random = Math.random): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}
