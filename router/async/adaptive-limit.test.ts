import { AdaptiveLimit } from './adaptive-limit';

/** A deterministic pseudo-random sequence, so the noisy cases are reproducible. */
function noise(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

/**
 * Runs a backlog through a window governed by `limit` for `seconds` of simulated time, refilling
 * as the dispatcher does (once a quarter of the window is free). `serviceMs(inFlight)` is how
 * long an event started now takes. `arrivalsPerS`, when set, limits the backlog to that demand.
 */
function simulate(limit: AdaptiveLimit, seconds: number, serviceMs: (inFlight: number) => number, arrivalsPerS?: number): { completedPerS: number; limits: number[] } {
  const running: number[] = [];
  const limits: number[] = [];
  let now = 0;
  let completed = 0;
  let available = arrivalsPerS === undefined ? Number.POSITIVE_INFINITY : 0;
  let lastArrival = 0;
  const refillAt = (): number => (running.length === 0 ? 1 : Math.max(1, Math.floor(limit.limit / 4)));
  const refill = (): void => {
    if (arrivalsPerS !== undefined) {
      available += ((now - lastArrival) / 1000) * arrivalsPerS;
      lastArrival = now;
    }
    if (limit.limit - running.length < refillAt()) return;
    while (running.length < limit.limit && available >= 1) {
      available -= 1;
      running.push(now + serviceMs(running.length + 1));
    }
    running.sort((a, b) => a - b);
  };
  refill();
  while (now < seconds * 1000) {
    const next = running.shift();
    if (next === undefined) {
      now += 1;
      refill();
      continue;
    }
    now = next;
    completed += 1;
    limit.record(now, running.length + 1, Math.max(1, Math.floor(limit.limit / 4)));
    limits.push(limit.limit);
    refill();
  }
  return { completedPerS: completed / seconds, limits };
}

/** A CPU-bound platform: it completes `perS` events a second however many are in flight; one alone waits `baseMs`. */
const saturated = (perS: number, baseMs: number) => (inFlight: number) => Math.max(baseMs, (inFlight / perS) * 1000);

test('adaptive limit grows to the cap when a long function completes proportionally more with a wider window', () => {
  const limit = new AdaptiveLimit({ initial: 8, max: 64 });
  const rand = noise(1);
  simulate(limit, 60, () => 1000 * (0.8 + rand() * 0.4));
  expect(limit.limit).toBeGreaterThanOrEqual(51);
});

test('adaptive limit reaches the cap of a long function within seconds when it starts small', () => {
  const limit = new AdaptiveLimit({ initial: 8, max: 64 });
  const { limits } = simulate(limit, 12, () => 500);
  expect(Math.max(...limits)).toBe(64);
});

test('adaptive limit stays far below the cap when a wider window only adds waiting', () => {
  const limit = new AdaptiveLimit({ initial: 8, max: 64 });
  simulate(limit, 30, saturated(600, 2));
  expect(limit.limit).toBeLessThanOrEqual(12);
});

test('adaptive limit comes down from the cap when a short function saturates the platform', () => {
  const limit = new AdaptiveLimit({ initial: 64, max: 64 });
  simulate(limit, 60, saturated(600, 2));
  expect(limit.limit).toBeLessThanOrEqual(16);
});

test('adaptive limit is left alone when events arrive slower than the window turns them around', () => {
  const limit = new AdaptiveLimit({ initial: 8, max: 64 });
  const { limits } = simulate(limit, 30, () => 100, 20);
  expect(new Set(limits)).toEqual(new Set([8]));
});

test('adaptive limit follows a lowered cap at once and never leaves the range 1 to the cap', () => {
  const limit = new AdaptiveLimit({ initial: 8, max: 64 });
  limit.setMax(3);
  expect(limit.limit).toBe(3);
  const { limits } = simulate(limit, 20, saturated(100, 50));
  expect(Math.min(...limits)).toBeGreaterThanOrEqual(1);
  expect(Math.max(...limits)).toBeLessThanOrEqual(3);
});
