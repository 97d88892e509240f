import { DEFAULT_ASYNC_CONFIG, type FunctionRecord } from '../../sdk/core/function-config';
import { DEFAULT_LOGGING } from '../../sdk/core/function-logs';
import { createLogger } from '../../sdk/platform/logger';
import { InstancePool, type InstancePoolOptions } from './instance-pool';

function record(name: string, memoryMb: number, ephemeralStorageMb: number): FunctionRecord {
  return {
    config: { name, runtime: 'nodejs', handler: 'index.handler', memoryMb, timeoutSeconds: 3, environment: {}, description: '', layers: [], ephemeralStorageMb, reservedConcurrency: undefined, role: '', tags: {}, async: DEFAULT_ASYNC_CONFIG, networkDisabled: false, recursiveLoop: 'Terminate', logging: DEFAULT_LOGGING },
    runtime: 'nodejs',
    code: { sha256: 'a'.repeat(64), size: 1, unpackedSize: 1, format: 'zip' },
    version: '$LATEST',
    revisionId: `${name}-r1`,
    lastModifiedMs: 0,
    layers: [],
  };
}

function pool(options: Partial<InstancePoolOptions>): InstancePool {
  return new InstancePool({ memoryMb: 10_000, maxInstances: 100, idleTimeoutMs: 600_000, memoryCheckMs: 100, logSink: () => undefined, logger: createLogger({ component: 'test' }, { level: 'error' }), onChange: () => undefined, ...options });
}

describe('InstancePool', () => {
  test('books /tmp disk as it books memory when /tmp is on disk: refuses an instance past it', async () => {
    const p = pool({ diskMb: 1500 });
    const a = p.admit(record('a', 128, 1024));
    expect(a).toBeDefined();
    expect(p.snapshot().diskFreeMb).toBe(476);
    // Memory is plentiful; disk is not.
    expect(p.admit(record('b', 128, 512))).toBeUndefined();
    expect(p.tracksDisk).toBe(true);
    p.remove(a!);
    expect(p.snapshot().diskFreeMb).toBe(1500);
    expect(p.admit(record('b', 128, 512))).toBeDefined();
    await p.close();
  });

  test('books no disk when /tmp is a tmpfs: ephemeral storage does not limit instances', async () => {
    const p = pool({});
    expect(p.admit(record('a', 128, 10_240))).toBeDefined();
    expect(p.admit(record('b', 128, 10_240))).toBeDefined();
    expect(p.snapshot().diskFreeMb).toBeUndefined();
    expect(p.tracksDisk).toBe(false);
    await p.close();
  });
});
