import type { NatsConnection } from '@nats-io/nats-core';
import { HeartbeatPublisher } from './heartbeat-publisher';

/** Counts what would go out on NATS; the publisher's own timing is the logic under test. */
function publisher(): { hb: HeartbeatPublisher; sent: () => number } {
  let sent = 0;
  const nc = { publish: () => void (sent += 1), isClosed: () => false } as unknown as NatsConnection;
  const hb = new HeartbeatPublisher(nc, {
    intervalMs: 10_000,
    coalesceMs: 5,
    minChangeIntervalMs: 25,
    snapshot: () => ({ agentId: 'a', address: 'x:1', state: 'ready', memoryTotalMb: 1024, memoryFreeMb: 1024, idleMemoryMb: 0, slotsTotal: 10, slotsFree: 10, functions: [] }),
  });
  return { hb, sent: () => sent };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('a change after a quiet spell is published after the coalescing delay, and a burst of changes is one heartbeat', () => {
  const { hb, sent } = publisher();
  hb.start();
  expect(sent()).toBe(1);
  hb.poke();
  hb.poke();
  hb.poke();
  jest.advanceTimersByTime(4);
  expect(sent()).toBe(1);
  jest.advanceTimersByTime(1);
  expect(sent()).toBe(2);
  hb.stop();
});

test('changes that keep coming are published at most once per minimum interval', () => {
  const { hb, sent } = publisher();
  hb.start();
  hb.poke();
  jest.advanceTimersByTime(5);
  expect(sent()).toBe(2);
  // The next change comes 1 ms later: it waits until 25 ms after the last change heartbeat.
  jest.advanceTimersByTime(1);
  hb.poke();
  jest.advanceTimersByTime(23);
  expect(sent()).toBe(2);
  jest.advanceTimersByTime(1);
  expect(sent()).toBe(3);
  // 100 changes over the next 100 ms: about four heartbeats, not a hundred.
  for (let i = 0; i < 100; i += 1) {
    hb.poke();
    jest.advanceTimersByTime(1);
  }
  expect(sent() - 3).toBeGreaterThanOrEqual(3);
  expect(sent() - 3).toBeLessThanOrEqual(5);
  // After a quiet spell, a change goes out promptly again.
  jest.advanceTimersByTime(200);
  const before = sent();
  hb.poke();
  jest.advanceTimersByTime(5);
  expect(sent()).toBe(before + 1);
  hb.stop();
});
