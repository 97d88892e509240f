import { DEFAULT_PRICES, gbSeconds, monthOf, priced, UsageTally, validateMonth } from '../../sdk/core/usage';
import { decodeUsageMessage } from './usage-recorder';
import { usageTenantFilter } from './usage-service';

const at = Date.UTC(2026, 11, 7);

describe('usage figures', () => {
  test('a tally adds up requests, billed ms and exact MB-ms per tenant and function', () => {
    const t = new UsageTally();
    t.add({ tenant: 'a', functionName: 'f', requestId: '1', billedMs: 10, memoryMb: 128, atMs: at });
    t.add({ tenant: 'a', functionName: 'f', requestId: '1', billedMs: 30, memoryMb: 128, atMs: at }); // a retry runs and is billed again
    t.add({ tenant: 'a', functionName: 'g', requestId: '2', billedMs: 1, memoryMb: 1024, atMs: at });
    t.add({ tenant: 'b', functionName: 'f', requestId: '3', billedMs: 5, memoryMb: 256, atMs: at });
    const [a, b] = t.result(DEFAULT_PRICES);
    expect(a!.functions).toEqual([
      { functionName: 'f', requests: 2, billedMs: 40, mbMs: 5120 },
      { functionName: 'g', requests: 1, billedMs: 1, mbMs: 1024 },
    ]);
    expect(a!.requests).toBe(3);
    expect(a!.gbSeconds).toBeCloseTo(gbSeconds(6144), 15);
    expect(b!.tenant).toBe('b');
  });

  test('the free tier is used first, then the price table', () => {
    const within = priced('a', [{ functionName: 'f', requests: 1000, billedMs: 1000, mbMs: 1024 * 1000 * 1000 }], DEFAULT_PRICES);
    expect(within.cost.total).toBe(0);
    const over = priced('a', [{ functionName: 'f', requests: 3_000_000, billedMs: 0, mbMs: 1024 * 1000 * 500_000 }], DEFAULT_PRICES);
    expect(over.cost.freeRequestsUsed).toBe(1_000_000);
    expect(over.cost.requests).toBeCloseTo(0.4, 10);
    expect(over.cost.freeGbSecondsUsed).toBe(400_000);
    expect(over.cost.compute).toBeCloseTo(100_000 * 0.0000166667, 10);
  });

  test('months are UTC YYYY-MM', () => {
    expect(monthOf(Date.UTC(2026, 0, 31, 23, 59))).toBe('2026-01');
    expect(validateMonth('', at)).toBe('2026-12');
    expect(validateMonth('2025-02')).toBe('2025-02');
    expect(() => validateMonth('2025-13')).toThrow(/YYYY-MM/);
    expect(() => validateMonth('december')).toThrow(/YYYY-MM/);
  });

  test('stored messages decode back to their records, tenant from the subject', () => {
    const data = Buffer.from(JSON.stringify([['f', 'r1', 12, 256, at]]));
    expect(decodeUsageMessage('stratus.usage.2026-12.acme', data)).toEqual([{ tenant: 'acme', functionName: 'f', requestId: 'r1', billedMs: 12, memoryMb: 256, atMs: at }]);
  });

  test('non-administrators read only their own tenant', () => {
    const alice = { kind: 'user' as const, tenant: 'a', name: 'alice', admin: false, scopes: ['*'], tokenId: 't' };
    expect(usageTenantFilter('', alice)).toBe('a');
    expect(usageTenantFilter('a', alice)).toBe('a');
    expect(() => usageTenantFilter('b', alice)).toThrow(/usage:read on tenant b/);
    expect(usageTenantFilter('', { ...alice, admin: true })).toBeUndefined();
    expect(usageTenantFilter('b', { ...alice, admin: true })).toBe('b');
  });
});
