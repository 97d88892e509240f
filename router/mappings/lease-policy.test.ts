import { leaseValidUntil, pickRebalance, preferredRouter, shouldAcquire } from './lease-policy';

const routers = ['router-1', 'router-2', 'router-3'];
const ids = Array.from({ length: 300 }, (_, i) => `m-${i}`);

test('every mapping prefers one live router and mappings spread over all routers when several are alive', () => {
  const counts = new Map<string, number>();
  for (const id of ids) {
    const p = preferredRouter(id, routers) as string;
    expect(routers).toContain(p);
    expect(preferredRouter(id, [...routers].reverse())).toBe(p);
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  for (const r of routers) expect(counts.get(r)).toBeGreaterThan(60);
  expect(preferredRouter('m', [])).toBeUndefined();
});

test('only the mappings of a router that left change their preferred router when it dies', () => {
  const moved = ids.filter((id) => preferredRouter(id, routers) !== preferredRouter(id, ['router-1', 'router-2']));
  expect(moved.every((id) => preferredRouter(id, routers) === 'router-3')).toBe(true);
});

test('a router takes a free lease at once when preferred and after the grace period otherwise', () => {
  expect(shouldAcquire({ me: 'a', preferred: 'a', freeSinceMs: 100, nowMs: 100, graceMs: 5000 })).toBe(true);
  expect(shouldAcquire({ me: 'a', preferred: undefined, freeSinceMs: 100, nowMs: 100, graceMs: 5000 })).toBe(true);
  expect(shouldAcquire({ me: 'a', preferred: 'b', freeSinceMs: 100, nowMs: 5000, graceMs: 5000 })).toBe(false);
  expect(shouldAcquire({ me: 'a', preferred: 'b', freeSinceMs: 100, nowMs: 5100, graceMs: 5000 })).toBe(true);
});

test('a router hands back one long-held lease another live router prefers when rebalancing', () => {
  const mine = ids.filter((id) => preferredRouter(id, ['router-1']) === 'router-1');
  const held = mine.slice(0, 20).map((mappingId) => ({ mappingId, heldSinceMs: 0 }));
  const pick = pickRebalance(held, routers, 'router-1', 60_000, 30_000) as string;
  expect(pick).toBeDefined();
  expect(preferredRouter(pick, routers)).not.toBe('router-1');
  expect(pickRebalance(held, routers, 'router-1', 10_000, 30_000)).toBeUndefined();
  expect(pickRebalance(held, ['router-1'], 'router-1', 60_000, 30_000)).toBeUndefined();
});

test('a holder stops acting on its lease well before the server can expire it', () => {
  expect(leaseValidUntil(1000, 10_000)).toBe(8500);
});
