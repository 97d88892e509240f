import { KeyScheduler, type BatchGroup, type SchedulableRecord } from './key-scheduler';

interface Rec extends SchedulableRecord {
  label: string;
}

let seq = 0;
function rec(key: string, at = 0, bytes = 10): Rec {
  seq += 1;
  return { seq, key, bytes, arrivedAtMs: at, label: `${key}${seq}` };
}

function scheduler(o: Partial<{ batchSize: number; maxBatchBytes: number; windowMs: number }> = {}): KeyScheduler<Rec> {
  return new KeyScheduler<Rec>({ batchSize: o.batchSize ?? 10, maxBatchBytes: o.maxBatchBytes ?? 1_000_000, windowMs: o.windowMs ?? 0, envelopeBytes: 14 });
}

function run(s: KeyScheduler<Rec>, now = 0): BatchGroup<Rec, unknown> {
  const d = s.next(now);
  if (d.kind !== 'run') throw new Error(`expected a batch, got ${JSON.stringify(d)}`);
  return d.group;
}

const seqs = (g: BatchGroup<Rec, unknown>): number[] => g.records.map((r) => r.seq);

beforeEach(() => {
  seq = 0;
});

test('a batch takes records in stream order up to the batch size when records are ready', () => {
  const s = scheduler({ batchSize: 3 });
  for (const k of ['a', 'b', 'a', 'c', 'b']) s.add(rec(k));
  expect(seqs(run(s))).toEqual([1, 2, 3]);
  expect(s.buffered).toBe(5);
});

test('a key held by a running batch is skipped by the next batch until that batch settles', () => {
  const s = scheduler({ batchSize: 2 });
  for (const k of ['a', 'a', 'b', 'a', 'c']) s.add(rec(k));
  const first = run(s);
  expect(seqs(first)).toEqual([1, 2]);
  // a4 waits behind the running batch; b and c go.
  expect(seqs(run(s))).toEqual([3, 5]);
  expect(s.next(0)).toEqual({ kind: 'idle' });
  s.settle(first);
  expect(seqs(run(s))).toEqual([4]);
});

test('a batch waits for its window unless it is full when a window is set', () => {
  const s = scheduler({ batchSize: 3, windowMs: 100 });
  s.add(rec('a', 0));
  s.add(rec('b', 20));
  expect(s.next(50)).toEqual({ kind: 'wait', untilMs: 100 });
  expect(seqs(run(s, 100))).toEqual([1, 2]);
  for (const k of ['c', 'd', 'e']) s.add(rec(k, 200));
  expect(seqs(run(s, 200))).toEqual([3, 4, 5]);
});

test('a batch stops before the byte limit but always takes at least one record when records are large', () => {
  const s = scheduler({ batchSize: 10, maxBatchBytes: 100 });
  s.add(rec('a', 0, 40));
  s.add(rec('b', 0, 40));
  s.add(rec('c', 0, 40));
  // 14 bytes of envelope + 2 × (40 + a comma) fit in 100; a third record does not.
  expect(seqs(run(s))).toEqual([1, 2]);
  expect(seqs(run(s))).toEqual([3]);
  const big = scheduler({ batchSize: 10, maxBatchBytes: 100 });
  big.add(rec('x', 0, 500));
  expect(run(big).records).toHaveLength(1);
});

test('a retry runs before newer records of its keys and only after its backoff when a batch fails', () => {
  const s = scheduler({ batchSize: 2 });
  s.add(rec('a'));
  s.add(rec('b'));
  const g = run(s);
  s.add(rec('a'));
  s.settle(g, [{ records: g.records, attempts: 1, throttles: 0, notBeforeMs: 500 }]);
  // a3 must not overtake the retry of a1; nothing else is ready.
  expect(s.next(100)).toEqual({ kind: 'wait', untilMs: 500 });
  const retry = run(s, 500);
  expect(seqs(retry)).toEqual([1, 2]);
  expect(retry.attempts).toBe(1);
  s.settle(retry);
  expect(seqs(run(s, 500))).toEqual([3]);
  expect(s.buffered).toBe(1);
});

test('bisected halves with disjoint keys both run and a failing half holds back only its own keys when bisecting', () => {
  const s = scheduler({ batchSize: 4 });
  for (const k of ['a', 'p', 'c', 'd']) s.add(rec(k));
  const g = run(s);
  s.settle(g, [
    { records: g.records.slice(0, 2), attempts: 0, throttles: 0, notBeforeMs: 0 },
    { records: g.records.slice(2), attempts: 0, throttles: 0, notBeforeMs: 0 },
  ]);
  const h1 = run(s);
  const h2 = run(s);
  expect([seqs(h1), seqs(h2)]).toEqual([[1, 2], [3, 4]]);
  s.settle(h2);
  // h1 splits again: a1 succeeds, p2 keeps failing with a backoff.
  s.settle(h1, [
    { records: [h1.records[0] as Rec], attempts: 0, throttles: 0, notBeforeMs: 0 },
    { records: [h1.records[1] as Rec], attempts: 1, throttles: 0, notBeforeMs: 1000 },
  ]);
  s.settle(run(s));
  for (const k of ['a', 'p', 'c']) s.add(rec(k));
  // a5 and c7 run while p2 (and p6 behind it) wait.
  expect(seqs(run(s, 10))).toEqual([5, 7]);
});

test('halves sharing a key run one after the other when a bisected batch holds a key twice', () => {
  const s = scheduler({ batchSize: 4 });
  for (const k of ['a', 'b', 'a', 'c']) s.add(rec(k));
  const g = run(s);
  s.settle(g, [
    { records: g.records.slice(0, 2), attempts: 0, throttles: 0, notBeforeMs: 0 },
    { records: g.records.slice(2), attempts: 0, throttles: 0, notBeforeMs: 0 },
  ]);
  const h1 = run(s);
  expect(seqs(h1)).toEqual([1, 2]);
  expect(s.next(0)).toEqual({ kind: 'idle' });
  s.settle(h1);
  expect(seqs(run(s))).toEqual([3, 4]);
});

test('records of one key never run in two batches at once when many keys interleave', () => {
  const s = scheduler({ batchSize: 7, windowMs: 0 });
  const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
  for (let i = 0; i < 500; i += 1) s.add(rec(keys[(i * 7) % 5] as string));
  const seen = new Map<string, number>();
  const running: Array<BatchGroup<Rec, unknown>> = [];
  let steps = 0;
  while (s.buffered > 0 && steps < 10_000) {
    steps += 1;
    const d = s.next(0);
    if (d.kind === 'run' && running.length < 3) {
      const inFlight = new Set(running.flatMap((g) => g.keys));
      expect(d.group.keys.some((k) => inFlight.has(k))).toBe(false);
      running.push(d.group);
      continue;
    }
    const g = running.shift() as BatchGroup<Rec, unknown>;
    for (const r of g.records) {
      expect(r.seq).toBeGreaterThan(seen.get(r.key) ?? 0);
      seen.set(r.key, r.seq);
    }
    s.settle(g);
  }
  expect(s.buffered).toBe(0);
});

test('unordered records with keys of their own fill batches regardless of arrival keys when the mapping has no ordering key', () => {
  const s = scheduler({ batchSize: 3 });
  for (let i = 0; i < 6; i += 1) {
    seq += 1;
    s.add({ seq, key: `#${seq}`, bytes: 5, arrivedAtMs: 0, label: '' });
  }
  const a = run(s);
  const b = run(s);
  expect([seqs(a), seqs(b)]).toEqual([[1, 2, 3], [4, 5, 6]]);
  s.settle(b);
  s.settle(a);
  expect(s.buffered).toBe(0);
});
