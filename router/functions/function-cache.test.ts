import type { FunctionRecord } from '../../sdk/core/function-config';
import { FunctionCache } from './function-cache';

function record(name: string, revisionId: string): FunctionRecord {
  return { config: { name } as FunctionRecord['config'], runtime: 'nodejs', code: {} as FunctionRecord['code'], version: '$LATEST', revisionId, lastModifiedMs: 0, layers: [] };
}

/** The registry's reads, in memory: a KV entry per name with its revision; reads can be held open. */
class MemoryRegistry {
  readonly entries = new Map<string, { record: FunctionRecord; revision: number }>();
  reads = 0;
  gate: Promise<void> | undefined;

  async getEntry(name: string): Promise<{ record: FunctionRecord; revision: number } | undefined> {
    this.reads += 1;
    const entry = this.entries.get(name);
    await this.gate;
    return entry;
  }
}

function opened(): { gate: Promise<void>; open: () => void } {
  let open = (): void => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return { gate, open };
}

describe('FunctionCache', () => {
  test('apply ignores changes to functions this router never read', async () => {
    const registry = new MemoryRegistry();
    const cache = new FunctionCache(registry, 100);
    for (let i = 0; i < 50; i += 1) cache.apply({ name: `fn-${i}`, record: record(`fn-${i}`, 'r1'), revision: i + 1 });
    expect(cache.size).toBe(0);
    registry.entries.set('fn-3', { record: record('fn-3', 'r9'), revision: 90 });
    await expect(cache.get('fn-3')).resolves.toMatchObject({ revisionId: 'r9' });
    expect(cache.size).toBe(1);
  });

  test('apply updates a held function when a newer revision is seen and keeps it when an older one is', async () => {
    const registry = new MemoryRegistry();
    registry.entries.set('fn', { record: record('fn', 'r1'), revision: 5 });
    const cache = new FunctionCache(registry, 100);
    await cache.get('fn');
    cache.apply({ name: 'fn', record: record('fn', 'r0'), revision: 4 });
    await expect(cache.get('fn')).resolves.toMatchObject({ revisionId: 'r1' });
    cache.apply({ name: 'fn', record: record('fn', 'r2'), revision: 6 });
    await expect(cache.get('fn')).resolves.toMatchObject({ revisionId: 'r2' });
    expect(registry.reads).toBe(1);
  });

  test('get answers what it read and keeps the newer change when a change arrives during the read', async () => {
    const registry = new MemoryRegistry();
    registry.entries.set('fn', { record: record('fn', 'r1'), revision: 5 });
    const cache = new FunctionCache(registry, 100);
    const { gate, open } = opened();
    registry.gate = gate;
    const reading = cache.get('fn');
    cache.apply({ name: 'fn', record: record('fn', 'r2'), revision: 6 });
    open();
    await expect(reading).resolves.toMatchObject({ revisionId: 'r1' });
    registry.gate = undefined;
    await expect(cache.get('fn')).resolves.toMatchObject({ revisionId: 'r2' });
    expect(registry.reads).toBe(1);
  });

  test('get does not cache what it read when the function is deleted during the read', async () => {
    const registry = new MemoryRegistry();
    registry.entries.set('fn', { record: record('fn', 'r1'), revision: 5 });
    const cache = new FunctionCache(registry, 100);
    const { gate, open } = opened();
    registry.gate = gate;
    const reading = cache.get('fn');
    cache.apply({ name: 'fn', record: undefined, revision: 6 });
    open();
    await reading;
    registry.gate = undefined;
    registry.entries.delete('fn');
    await expect(cache.get('fn')).resolves.toBeUndefined();
  });

  test('the cache holds at most its limit of functions when more are read', async () => {
    const registry = new MemoryRegistry();
    for (let i = 0; i < 30; i += 1) registry.entries.set(`fn-${i}`, { record: record(`fn-${i}`, 'r1'), revision: 1 });
    const cache = new FunctionCache(registry, 10);
    for (let i = 0; i < 30; i += 1) await cache.get(`fn-${i}`);
    expect(cache.size).toBe(10);
  });

  test('the watch report of this router\'s own write is taken in, so the next get needs no read', async () => {
    const registry = new MemoryRegistry();
    registry.entries.set('fn', { record: record('fn', 'r1'), revision: 5 });
    const cache = new FunctionCache(registry, 100);
    await cache.get('fn');
    cache.put(record('fn', 'r2'));
    registry.entries.set('fn', { record: record('fn', 'r2'), revision: 6 });
    cache.apply({ name: 'fn', record: record('fn', 'r2'), revision: 6 });
    await expect(cache.get('fn')).resolves.toMatchObject({ revisionId: 'r2' });
    expect(registry.reads).toBe(1);
  });

  test('after this router\'s write, an older change reported late is not taken for it: the next get reads', async () => {
    const registry = new MemoryRegistry();
    const cache = new FunctionCache(registry, 100);
    cache.put(record('fn', 'r3'));
    registry.entries.set('fn', { record: record('fn', 'r3'), revision: 9 });
    cache.apply({ name: 'fn', record: record('fn', 'r2'), revision: 8 });
    await expect(cache.get('fn')).resolves.toMatchObject({ revisionId: 'r3' });
    expect(registry.reads).toBe(1);
  });
});
