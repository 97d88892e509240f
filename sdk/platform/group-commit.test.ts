import { createLogger } from './logger';
import { GroupCommit } from './group-commit';

const logger = createLogger({ component: 'test' }, { level: 'error' });

describe('GroupCommit', () => {
  test('sends records that arrive while a publish is in flight together, one message per subject', async () => {
    const sent: Array<{ subject: string; n: number }> = [];
    let release!: () => void;
    let first = true;
    const gc = new GroupCommit<{ s: string }>(
      async (subject, body) => {
        if (first) {
          first = false;
          await new Promise<void>((r) => (release = r));
        }
        sent.push({ subject, n: (JSON.parse(Buffer.from(body).toString()) as unknown[]).length });
      },
      logger,
      { subjectOf: (r) => r.s, encode: (rs) => Buffer.from(JSON.stringify(rs)), writer: 'w', what: 'records' },
    );
    const one = gc.add({ s: 'a' });
    const rest = [gc.add({ s: 'a' }), gc.add({ s: 'a' }), gc.add({ s: 'b' })];
    await new Promise((r) => setImmediate(r));
    release();
    await Promise.all([one, ...rest]);
    expect(sent).toEqual([{ subject: 'a', n: 1 }, { subject: 'a', n: 2 }, { subject: 'b', n: 1 }]);
    expect(gc.pending()).toBe(0);
  });

  test('retries a failed publish under the same message id, and counts drops past its bound', async () => {
    const ids: string[] = [];
    let fails = 1;
    const gc = new GroupCommit<number>(
      async (_s, _b, msgId) => {
        ids.push(msgId);
        if (fails-- > 0) throw new Error('down');
      },
      logger,
      { subjectOf: () => 's', encode: (rs) => Buffer.from(JSON.stringify(rs)), writer: 'w', maxQueued: 1, what: 'records' },
    );
    const stored = gc.add(1);
    await gc.add(2);
    await stored;
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
    expect(gc.publishFailures).toBe(1);
    expect(gc.dropped).toBe(1);
  });
});
