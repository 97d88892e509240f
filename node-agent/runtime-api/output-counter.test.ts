import { OutputCounter } from './output-counter';

test('a mark already reached resolves at once', async () => {
  const c = new OutputCounter(1000);
  c.received('out', 10);
  c.received('err', 3);
  await expect(c.reached({ out: 10, err: 3 })).resolves.toBeUndefined();
});

test('a mark resolves when the bytes it counts arrive, not before', async () => {
  const c = new OutputCounter(10_000);
  let done = false;
  const waiting = c.reached({ out: 8, err: 2 }).then(() => (done = true));
  c.received('out', 8);
  await new Promise((r) => setImmediate(r));
  expect(done).toBe(false);
  c.received('err', 2);
  await waiting;
  expect(done).toBe(true);
});

test('a mark never reached resolves after the wait, and the shortfall is not waited for again', async () => {
  const c = new OutputCounter(30);
  c.received('out', 5);
  const t0 = Date.now();
  await c.reached({ out: 9, err: 0 });
  expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
  // The runtime counts 4 bytes more than the agent ever sees: later marks are taken as reached.
  c.received('out', 6);
  const t1 = Date.now();
  await c.reached({ out: 15, err: 0 });
  expect(Date.now() - t1).toBeLessThan(25);
});
