import type { RegistryChange } from './function-registry';
import { RegistryWatch } from './registry-watch';

/** A registry whose watch runs until aborted, or fails when told to; it counts how often it was opened. */
class FakeRegistry {
  opened = 0;
  failNext = 0;
  onChange: ((change: RegistryChange) => void) | undefined;

  async watch(onChange: (change: RegistryChange) => void, signal: AbortSignal): Promise<void> {
    this.opened += 1;
    this.onChange = onChange;
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('watch failed');
    }
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
}

function fixture(retryDelayMs = 1): { registry: FakeRegistry; cache: { applied: RegistryChange[]; clears: number; apply(c: RegistryChange): void; clear(): void }; warnings: string[]; watch: RegistryWatch } {
  const registry = new FakeRegistry();
  const cache = {
    applied: [] as RegistryChange[],
    clears: 0,
    apply(c: RegistryChange): void {
      this.applied.push(c);
    },
    clear(): void {
      this.clears += 1;
    },
  };
  const warnings: string[] = [];
  const watch = new RegistryWatch({ registry, cache, logger: { warn: (msg: string): void => { warnings.push(msg); } } }, { retryDelayMs });
  return { registry, cache, warnings, watch };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i += 1) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe('RegistryWatch', () => {
  test('the watch is not healthy before it starts and is once it runs, and changes reach the cache', async () => {
    const { registry, cache, watch } = fixture();
    expect(watch.healthy).toBe(false);
    expect(watch.problem()).toBe('registry watch not running');
    watch.start();
    await until(() => registry.opened === 1);
    expect(watch.healthy).toBe(true);
    expect(watch.problem()).toBeUndefined();
    registry.onChange?.({ name: 'fn', record: undefined, revision: 3 });
    expect(cache.applied).toEqual([{ name: 'fn', record: undefined, revision: 3 }]);
    await watch.stop();
  });

  test('the watch opens again and clears the cache when it fails', async () => {
    const { registry, cache, warnings, watch } = fixture();
    registry.failNext = 2;
    watch.start();
    await until(() => registry.opened === 3);
    expect(cache.clears).toBe(3);
    expect(warnings).toEqual(['registry watch failed; restarting', 'registry watch failed; restarting']);
    expect(watch.healthy).toBe(true);
    await watch.stop();
  });

  test('stop returns the same promise every time and ends the loop when the watch is waiting to retry', async () => {
    const { registry, watch } = fixture(60_000);
    registry.failNext = 1;
    watch.start();
    await until(() => registry.opened === 1 && !watch.healthy);
    const first = watch.stop();
    expect(watch.stop()).toBe(first);
    await first;
    expect(registry.opened).toBe(1);
    expect(watch.healthy).toBe(false);
  });

  test('start refuses to run twice or after stop', async () => {
    const { watch } = fixture();
    watch.start();
    expect(() => watch.start()).toThrow(/running/);
    await watch.stop();
    expect(() => watch.start()).toThrow(/stopped/);
  });

  test('stop before start resolves at once', async () => {
    const { registry, watch } = fixture();
    await watch.stop();
    expect(registry.opened).toBe(0);
  });
});
