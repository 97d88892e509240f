import { isDone, mergeHints, parseProgressHint, snapshotProgress } from './progress-hint';

test('a poller holding nothing has everything it received done', () => {
  const hint = snapshotProgress([], 120, 120);
  expect(hint).toEqual({ floor: 120, upTo: 120, pending: [] });
  expect(isDone(hint!, 120)).toBe(true);
  expect(isDone(hint!, 121)).toBe(false);
});

test('records held below the newest finished record are pending and the rest up to it are done when batches finish out of order', () => {
  // Received 1..20; 5, 6, 9 and 15..20 still held; finished up to 14.
  const hint = snapshotProgress([5, 6, 9, 15, 16, 17, 18, 19, 20], 20, 14)!;
  expect(hint).toEqual({ floor: 4, upTo: 14, pending: [[5, 6], [9, 9]] });
  const done = Array.from({ length: 22 }, (_, i) => i + 1).filter((s) => isDone(hint, s));
  expect(done).toEqual([1, 2, 3, 4, 7, 8, 10, 11, 12, 13, 14]);
});

test('a hint is only read back when it has the stored shape', () => {
  expect(parseProgressHint({ floor: 1, upTo: 5, pending: [[2, 3]] })).toEqual({ floor: 1, upTo: 5, pending: [[2, 3]] });
  expect(parseProgressHint({ floor: 1, upTo: 5, pending: [[2]] })).toBeUndefined();
  expect(parseProgressHint('x')).toBeUndefined();
});

test('no hint is made when the pending ranges would be too many', () => {
  const held = Array.from({ length: 20_001 }, (_, i) => i * 2 + 2);
  expect(snapshotProgress(held, 50_000, 50_000)).toBeUndefined();
});

test('a new poller keeps what the old hint knew beyond its own progress when it has not caught up yet', () => {
  const older = { floor: 10, upTo: 100, pending: [[12, 12] as [number, number], [40, 60] as [number, number], [90, 90] as [number, number]] };
  const newer = { floor: 11, upTo: 50, pending: [[12, 12] as [number, number], [45, 50] as [number, number]] };
  const merged = mergeHints(newer, older);
  expect(merged).toEqual({ floor: 11, upTo: 100, pending: [[12, 12], [45, 50], [51, 60], [90, 90]] });
  expect([12, 44, 47, 55, 61, 90, 95, 101].map((s) => isDone(merged, s))).toEqual([false, true, false, false, true, false, true, false]);
  expect(mergeHints(older, newer)).toBe(older);
});
