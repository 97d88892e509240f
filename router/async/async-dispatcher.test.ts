import { discoveredFunction, workerExpired } from './async-dispatcher';

describe('async worker discovery', () => {
  test('discoveredFunction names the function when its consumer has events not yet delivered', () => {
    expect(discoveredFunction({ name: 'async-orders', pending: 3, ackPending: 0 })).toBe('orders');
  });

  test('discoveredFunction names the function when its consumer has events delivered and not acknowledged', () => {
    // Put back with a delay, running elsewhere, or left by a router that died: a worker must be there when they come back.
    expect(discoveredFunction({ name: 'async-orders', pending: 0, ackPending: 1 })).toBe('orders');
  });

  test('discoveredFunction skips a consumer that holds no events', () => {
    expect(discoveredFunction({ name: 'async-orders', pending: 0, ackPending: 0 })).toBeUndefined();
  });

  test('discoveredFunction skips consumers that are not async consumers', () => {
    expect(discoveredFunction({ name: 'mapping-x', pending: 5, ackPending: 5 })).toBeUndefined();
  });
});

describe('async worker expiry', () => {
  test('workerExpired is true when nothing runs and nothing happened for the idle period', () => {
    expect(workerExpired({ running: 0, lastActiveMs: 1000 }, 61_000, 60_000)).toBe(true);
  });

  test('workerExpired is false before the idle period is over', () => {
    expect(workerExpired({ running: 0, lastActiveMs: 1000 }, 60_999, 60_000)).toBe(false);
  });

  test('workerExpired is false while events of the function run, however long ago it last pulled any', () => {
    expect(workerExpired({ running: 1, lastActiveMs: 0 }, 10_000_000, 60_000)).toBe(false);
  });
});
