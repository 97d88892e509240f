import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { StratusError } from '../../sdk/core/errors';
import { casWrite, decodeRecord, isLive, isRevisionConflict, listKeys, listRecords, writeIfUnchanged } from '../../sdk/platform/kv-records';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server';

// The KV record helpers against a real nats-server: the conflict check must recognise what
// the server really answers to a lost compare-and-set, not what we think it answers.

let server: NatsServerHandle;
let nc: NatsConnection;
let kv: KV;
let bucketCount = 0;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

beforeEach(async () => {
  bucketCount += 1;
  kv = await new Kvm(nc).create(`kvrecords_${process.pid}_${bucketCount}`, { history: 5 });
});

async function failure(op: () => Promise<unknown>): Promise<unknown> {
  try {
    await op();
  } catch (err) {
    return err;
  }
  throw new Error('the operation succeeded; it was expected to fail');
}

describe('isRevisionConflict against nats-server', () => {
  test('isRevisionConflict is true when an update names a revision the key has moved past', async () => {
    const first = await kv.put('a', '1');
    await kv.put('a', '2');
    expect(isRevisionConflict(await failure(() => kv.update('a', '3', first)))).toBe(true);
  });

  test('isRevisionConflict is true when a create finds the key already holding a value', async () => {
    await kv.create('a', '1');
    expect(isRevisionConflict(await failure(() => kv.create('a', '2')))).toBe(true);
  });

  test('isRevisionConflict is true when a delete with previousSeq finds the key changed', async () => {
    const first = await kv.put('a', '1');
    await kv.put('a', '2');
    expect(isRevisionConflict(await failure(() => kv.delete('a', { previousSeq: first })))).toBe(true);
  });

  test('isRevisionConflict is true when an update names a revision of a key that never existed', async () => {
    expect(isRevisionConflict(await failure(() => kv.update('never', '1', 42)))).toBe(true);
  });

  test('isRevisionConflict is false when the failure is not a lost race (bucket deleted)', async () => {
    const gone = await new Kvm(nc).create(`kvrecords_gone_${process.pid}`);
    await gone.destroy();
    const err = await failure(() => gone.update('a', '1', 1));
    expect(isRevisionConflict(err)).toBe(false);
  });
});

describe('compare-and-set writes against nats-server', () => {
  test('writeIfUnchanged creates a missing key and updates a key still at the read revision', async () => {
    const created = await writeIfUnchanged(kv, 'a', '1', await kv.get('a'), 'storing a');
    expect(created).toBeGreaterThan(0);
    const updated = await writeIfUnchanged(kv, 'a', '2', await kv.get('a'), 'storing a');
    expect(updated).toBeGreaterThan(created ?? 0);
    expect((await kv.get('a'))?.string()).toBe('2');
  });

  test('writeIfUnchanged returns undefined when another writer changed the key since the read', async () => {
    await kv.put('a', '1');
    const read = await kv.get('a');
    await kv.put('a', 'other');
    expect(await writeIfUnchanged(kv, 'a', '2', read, 'storing a')).toBeUndefined();
    expect((await kv.get('a'))?.string()).toBe('other');
  });

  test('writeIfUnchanged returns undefined when another writer created the key since it was read missing', async () => {
    const read = await kv.get('a');
    await kv.put('a', 'other');
    expect(await writeIfUnchanged(kv, 'a', '2', read, 'storing a')).toBeUndefined();
  });

  test('writeIfUnchanged creates over a deleted key', async () => {
    await kv.put('a', '1');
    await kv.delete('a');
    expect(await writeIfUnchanged(kv, 'a', '2', await kv.get('a'), 'storing a')).toBeGreaterThan(0);
    expect((await kv.get('a'))?.string()).toBe('2');
  });

  test('casWrite returns undefined when the write lost the race and the result when it won', async () => {
    const rev = await kv.put('a', '1');
    expect(await casWrite('storing a', () => kv.update('a', '2', rev))).toBeGreaterThan(rev);
    expect(await casWrite('storing a', () => kv.update('a', '3', rev))).toBeUndefined();
  });

  test('casWrite throws ServiceUnavailable naming the operation when NATS fails otherwise', async () => {
    const gone = await new Kvm(nc).create(`kvrecords_gone2_${process.pid}`);
    await gone.destroy();
    const err = await failure(() => casWrite('storing a', () => gone.update('a', '1', 1)));
    expect(err).toBeInstanceOf(StratusError);
    expect((err as StratusError).code).toBe('ServiceUnavailable');
    expect((err as StratusError).message).toContain('storing a failed');
  });
});

describe('reading records against nats-server', () => {
  test('listRecords decodes every live key under the prefix and skips deleted ones and other prefixes', async () => {
    await kv.put('rec.a', JSON.stringify({ id: 'a' }));
    await kv.put('rec.b', JSON.stringify({ id: 'b' }));
    await kv.put('rec.c', JSON.stringify({ id: 'c' }));
    await kv.delete('rec.c');
    await kv.put('other.d', JSON.stringify({ id: 'd' }));
    const records = await listRecords(kv, 'rec.*', (e) => decodeRecord<{ id: string }>(e));
    expect(records.map((r) => r.id).sort()).toEqual(['a', 'b']);
    expect((await listKeys(kv, 'other.>')).sort()).toEqual(['other.d']);
  });

  test('decodeRecord is undefined when the key is missing, deleted or purged', async () => {
    expect(decodeRecord(await kv.get('none'))).toBeUndefined();
    await kv.put('a', '{"x":1}');
    expect(decodeRecord<{ x: number }>(await kv.get('a'))).toEqual({ x: 1 });
    expect(isLive(await kv.get('a'))).toBe(true);
    await kv.delete('a');
    expect(decodeRecord(await kv.get('a'))).toBeUndefined();
    await kv.put('b', '{"x":2}');
    await kv.purge('b');
    expect(decodeRecord(await kv.get('b'))).toBeUndefined();
  });
});
