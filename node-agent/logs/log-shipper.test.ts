import { decodeLogBatch } from '../../sdk/platform/log-batch';
import type { LogEntry } from '../../sdk/core/function-logs';
import { LogShipper, type LogShipperOptions } from './log-shipper';

const OPTIONS: LogShipperOptions = { agentId: 'a1', flushMs: 10_000, maxBatchBytes: 64 * 1024, budgetBytesPerSecond: 10_000, burstBytes: 20_000, maxBufferedBytes: 1024 * 1024, publishAttempts: 2 };

/** A shipper with a hand-driven clock and a store that keeps what it is given. */
function setup(options: Partial<LogShipperOptions> = {}, fail = () => false): { shipper: LogShipper; stored: Map<string, LogEntry[]>; clock: { now: number } } {
  const stored = new Map<string, LogEntry[]>();
  const clock = { now: 1_000_000 };
  const shipper = new LogShipper(
    async (subject, data) => {
      if (fail()) throw new Error('no stream');
      stored.set(subject, [...(stored.get(subject) ?? []), ...decodeLogBatch(data)]);
    },
    { ...OPTIONS, ...options },
    () => clock.now,
  );
  return { shipper, stored, clock };
}

describe('LogShipper', () => {
  test('ships lines in the order they were written, per function, with their request ids, when closed', async () => {
    const { shipper, stored } = setup();
    for (let i = 0; i < 50; i += 1) shipper.line('f', 'i1', `r${i % 2}`, 'stdout', `line ${i}`, 'INFO');
    shipper.line('g', 'i2', 'r9', 'stderr', 'other', '');
    await shipper.close(1000);
    expect(stored.get('stratus.logs.f')!.map((e) => e.message)).toEqual(Array.from({ length: 50 }, (_, i) => `line ${i}`));
    expect(stored.get('stratus.logs.f')!.map((e) => e.requestId).slice(0, 3)).toEqual(['r0', 'r1', 'r0']);
    expect(stored.get('stratus.logs.g')).toEqual([expect.objectContaining({ source: 'stderr', message: 'other', instanceId: 'i2', agentId: 'a1', requestId: 'r9' })]);
    expect(shipper.stats().get('f')).toEqual({ lines: 50, bytes: expect.any(Number), dropped: { budget: 0, buffer: 0, publish: 0 } });
  });

  test('drops and counts lines past the budget, and marks how many in the stream, when a function floods', async () => {
    const { shipper, stored, clock } = setup();
    for (let i = 0; i < 1000; i += 1) shipper.line('f', 'i1', 'r1', 'stdout', 'x'.repeat(100), 'INFO');
    // Platform lines are never dropped for the budget.
    shipper.line('f', 'i1', 'r1', 'platform', 'REPORT RequestId: r1', 'INFO');
    clock.now += 1000;
    shipper.line('f', 'i1', 'r2', 'stdout', 'after', 'INFO');
    await shipper.close(1000);
    const entries = stored.get('stratus.logs.f')!;
    const kept = entries.filter((e) => e.source === 'stdout' && e.message.startsWith('x')).length;
    const marker = entries.find((e) => e.droppedLines > 0)!;
    expect(kept).toBeGreaterThan(100);
    expect(kept + marker.droppedLines).toBe(1000);
    expect(marker).toMatchObject({ source: 'platform', level: 'WARN', requestId: 'r1' });
    expect(marker.message).toMatch(/^STRATUS_LOGS_DROPPED \d+ line\(s\) were not kept/);
    // The marker comes where the lines went missing: before the REPORT line and the next invocation's lines.
    expect(entries.slice(-3).map((e) => e.message.slice(0, 12))).toEqual([marker.message.slice(0, 12), 'REPORT Reque', 'after']);
    expect(shipper.stats().get('f')!.dropped.budget).toBe(marker.droppedLines);
  });

  test('counts a batch the stream would not take as dropped, after its attempts, when publishing fails', async () => {
    let failing = true;
    const { shipper, stored } = setup({}, () => failing);
    shipper.line('f', 'i1', 'r1', 'stdout', 'lost', 'INFO');
    shipper.start();
    await shipper.close(1500);
    expect(shipper.stats().get('f')!.dropped.publish).toBe(1);
    expect(stored.size).toBe(0);
    failing = false;
  });

  test('never holds more than its buffer: lines past it are dropped and counted as buffer drops', async () => {
    const { shipper } = setup({ maxBufferedBytes: 2000, budgetBytesPerSecond: 1e9, burstBytes: 1e9, maxBatchBytes: 1e9 });
    for (let i = 0; i < 100; i += 1) shipper.line('f', 'i1', 'r1', 'stdout', 'y'.repeat(100), 'INFO');
    expect(shipper.stats().get('f')!.dropped.buffer).toBeGreaterThan(0);
    await shipper.close(1000);
  });
});
