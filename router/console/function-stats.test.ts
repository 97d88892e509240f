import type { InvocationRecord } from '../../sdk/core/invocation-record';
import { functionStats } from './function-stats';

const rec = (over: Partial<InvocationRecord>): InvocationRecord => ({
  requestId: 'r', functionName: 'f', version: '$LATEST', tenant: 't', trigger: 'sync', source: '', startMs: 0, durationMs: 10, initDurationMs: undefined, queueWaitMs: 0,
  coldStart: false, status: 'Success', errorType: '', errorMessage: '', billedDurationMs: 10, memoryMb: 128, maxMemoryUsedMb: 20, agentId: 'a', attempt: 0, ...over,
});

describe('functionStats', () => {
  test('adds records up per function in buckets, with exact percentiles, when they fall in the window', () => {
    const now = 3_600_000;
    const records = [
      ...Array.from({ length: 98 }, (_, i) => rec({ startMs: now - 1000 - i, durationMs: i + 1 })),
      rec({ startMs: now - 10, status: 'Error', errorType: 'TypeError', durationMs: 500 }),
      rec({ startMs: now - 10, status: 'Throttled' }),
      rec({ startMs: 100, coldStart: true, durationMs: 1000 }),
      rec({ startMs: now + 5 }),
      rec({ functionName: 'g', startMs: now - 5 }),
    ];
    const stats = functionStats(records, now, 3_600_000, 12);
    const f = stats.get('f')!;
    expect({ requests: f.requests, errors: f.errors, throttles: f.throttles, coldStarts: f.coldStarts }).toEqual({ requests: 100, errors: 1, throttles: 1, coldStarts: 1 });
    expect(f.p50Ms).toBe(50);
    expect(f.p99Ms).toBe(500);
    expect(f.requestsSeries).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 99]);
    expect(f.errorsSeries[11]).toBe(1);
    expect(f.p99Series[0]).toBe(1000);
    expect(stats.get('g')!.requests).toBe(1);
  });
});
