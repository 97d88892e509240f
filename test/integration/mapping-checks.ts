import type { RecordedRun } from '../helpers/event-recorder';

/** A record as the mapping fixtures report it: ordering key, sequence, parsed data. */
export interface SeenRecord {
  k: string | null;
  s: number;
  d: unknown;
}

/** The batches a fixture reported, in the order they arrived. */
export function batchesOf(runs: RecordedRun[]): SeenRecord[][] {
  return runs.map((r) => (r.event as { recs: SeenRecord[] }).recs);
}

/**
 * Per-key order under at-least-once delivery: whenever a record of a key is seen, every record
 * of that key with a lower sequence (among all seen) must have been seen before — replays are
 * allowed, overtaking is not. Returns the violations found (empty when order held).
 */
export function checkKeyOrder(batches: SeenRecord[][]): string[] {
  const universe = new Map<string, number[]>();
  for (const r of batches.flat()) {
    const k = String(r.k);
    const list = universe.get(k) ?? [];
    list.push(r.s);
    universe.set(k, list);
  }
  const state = new Map<string, { sorted: number[]; index: Map<number, number>; seen: boolean[]; frontier: number }>();
  for (const [k, list] of universe) {
    const sorted = [...new Set(list)].sort((a, b) => a - b);
    state.set(k, { sorted, index: new Map(sorted.map((s, i) => [s, i])), seen: sorted.map(() => false), frontier: 0 });
  }
  const violations: string[] = [];
  batches.forEach((batch, b) => {
    for (const r of batch) {
      const st = state.get(String(r.k));
      const i = st?.index.get(r.s);
      if (!st || i === undefined) continue;
      if (i > st.frontier) violations.push(`batch ${b}: key ${r.k} record ${r.s} ran before record ${st.sorted[st.frontier]}`);
      st.seen[i] = true;
      while (st.frontier < st.sorted.length && st.seen[st.frontier]) st.frontier += 1;
    }
  });
  return violations.slice(0, 20);
}
