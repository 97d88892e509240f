import type { JetStreamManager } from '@nats-io/jetstream';
import { DEFAULT_ASYNC_CONFIG, type FunctionRecord } from '../../sdk/core/function-config';
import { DEFAULT_LOGGING } from '../../sdk/core/function-logs';
import { createLogger } from '../../sdk/platform/logger';
import { LogStreams } from './log-streams';

function record(version: string, retentionDays: number): FunctionRecord {
  return {
    config: { name: 'f', runtime: 'nodejs', handler: 'index.handler', memoryMb: 128, timeoutSeconds: 3, environment: {}, description: '', layers: [], ephemeralStorageMb: 512, reservedConcurrency: undefined, role: '', tags: {}, async: DEFAULT_ASYNC_CONFIG, networkDisabled: false, recursiveLoop: 'Terminate', logging: { ...DEFAULT_LOGGING, retentionDays } },
    runtime: 'nodejs',
    code: { sha256: 'a'.repeat(64), size: 1, unpackedSize: 1, format: 'zip' },
    version,
    revisionId: `r-${version}`,
    lastModifiedMs: 0,
    layers: [],
  };
}

describe('LogStreams', () => {
  test('sizes the stream by $LATEST: a version with another logging config uses the stream as it is', async () => {
    const DAY_NS = 86_400 * 1_000_000_000;
    const stored = { max_age: 7 * DAY_NS, max_bytes: 256 * 1024 * 1024 };
    const calls: string[] = [];
    const jsm = {
      streams: {
        info: async () => {
          calls.push('info');
          return { config: { ...stored } };
        },
        update: async (_name: string, c: { max_age: number; max_bytes: number }) => {
          calls.push(`update ${c.max_age / DAY_NS}d`);
          Object.assign(stored, c);
          return {};
        },
      },
    } as unknown as JetStreamManager;
    const streams = new LogStreams(jsm, createLogger({ component: 'test' }, { level: 'error' }), { replicas: 1, retentionDays: 7, maxMb: 256 });
    expect(streams.isReady(record('$LATEST', 0))).toBe(false);
    await streams.ensure(record('$LATEST', 0));
    expect(calls).toEqual(['info']);
    // Published with a 30-day config: no resize back and forth.
    expect(streams.isReady(record('3', 30))).toBe(true);
    // $LATEST changed its retention: the stream follows.
    expect(streams.isReady(record('$LATEST', 30))).toBe(false);
    await streams.ensure(record('$LATEST', 30));
    expect(calls).toEqual(['info', 'info', 'update 30d']);
    expect(streams.isReady(record('$LATEST', 30))).toBe(true);
  });
});
