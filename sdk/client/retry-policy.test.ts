import { StratusError } from '../core/errors';
import { nextRetry, retryableFor, type RetryState } from './retry-policy';

const unavailable = new StratusError('ServiceUnavailable', 'router down');
const throttled = new StratusError('TooManyRequests', 'slow down');
const noAgents = new StratusError('TooManyRequests', 'no agents', { retryable: false });
const agentLost = new StratusError('AgentLost', 'agent went away');
const notFound = new StratusError('FunctionNotFound', 'no such function');

describe('retryableFor', () => {
  test('retryableFor allows a retry when a read meets an unavailable router or a throttle', () => {
    expect(retryableFor('read', unavailable)).toBe(true);
    expect(retryableFor('read', throttled)).toBe(true);
  });

  test('retryableFor refuses a retry when a read fails for a reason a repeat cannot fix', () => {
    expect(retryableFor('read', notFound)).toBe(false);
    expect(retryableFor('read', new StratusError('Timeout', 'took too long'))).toBe(false);
  });

  test('retryableFor allows a retry when an invocation was throttled before it ran', () => {
    expect(retryableFor('invoke', throttled)).toBe(true);
  });

  test('retryableFor refuses a retry when an invocation may have run or the throttle says not to', () => {
    expect(retryableFor('invoke', agentLost)).toBe(false);
    expect(retryableFor('invoke', unavailable)).toBe(false);
    expect(retryableFor('invoke', noAgents)).toBe(false);
  });

  test('retryableFor refuses a retry when a write fails, whatever the error', () => {
    for (const err of [unavailable, throttled, agentLost, notFound]) expect(retryableFor('write', err)).toBe(false);
  });
});

describe('nextRetry', () => {
  const base: RetryState = { attempt: 0, maxAttempts: 3, deadline: 10_000, now: 0, backoffBaseMs: 100, backoffCapMs: 2000, random: () => 0.5 };

  test('nextRetry waits a jittered backoff when attempts and time are left', () => {
    expect(nextRetry(base)).toEqual({ kind: 'retry', delayMs: 50 });
    expect(nextRetry({ ...base, attempt: 1 })).toEqual({ kind: 'retry', delayMs: 100 });
  });

  test('nextRetry caps the backoff when attempts grow large', () => {
    expect(nextRetry({ ...base, attempt: 10, maxAttempts: 20, random: () => 0.999 })).toEqual({ kind: 'retry', delayMs: 1998 });
  });

  test('nextRetry waits at least the server hint when a throttle gives one', () => {
    expect(nextRetry({ ...base, retryAfterMs: 700 })).toEqual({ kind: 'retry', delayMs: 700 });
  });

  test('nextRetry stops when the failed attempt was the last allowed', () => {
    expect(nextRetry({ ...base, attempt: 2 })).toEqual({ kind: 'stop' });
    expect(nextRetry({ ...base, maxAttempts: 1 })).toEqual({ kind: 'stop' });
  });

  test('nextRetry stops when the wait would reach the deadline', () => {
    expect(nextRetry({ ...base, deadline: 50 })).toEqual({ kind: 'stop' });
    expect(nextRetry({ ...base, now: 9_000, retryAfterMs: 1_000 })).toEqual({ kind: 'stop' });
  });

  test('nextRetry retries when the call has no deadline', () => {
    expect(nextRetry({ ...base, deadline: Infinity, retryAfterMs: 60_000 })).toEqual({ kind: 'retry', delayMs: 60_000 });
  });
});
