/**
 * Subject triggers end to end: real nats-server, router and agent processes. Events are
 * published by a plain NATS client, the SDK and the CLI binary; each fixture function succeeds,
 * and its on-success destination subject is captured by a stream the test creates, so the
 * test reads exactly which events ran (the record's requestPayload is the event envelope).
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { StratusClient } from '../../sdk/client/stratus-client';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { waitFor } from '../helpers/ports';
import { distEntry, startRouter } from '../helpers/stratus-process';

/** The envelope a trigger hands its function (README, "Event sources"). */
interface Envelope {
  subject: string;
  data: unknown;
  dataEncoding?: string;
  headers: Record<string, string>;
  publishedAt: string;
  sequence: number;
  trigger: string;
}

interface SuccessRecord {
  requestContext: { requestId: string; condition: string };
  requestPayload: Envelope;
}

let cluster: TestCluster;
let client: StratusClient;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  cluster = await startCluster({ agents: 1 });
  client = cluster.client();
  nc = await connect({ servers: cluster.nats.url });
  jsm = await jetstreamManager(nc);
}, 60_000);
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Deploys a function that returns `{ ok: true }` and sends its success records to a subject a
 * fresh stream captures; returns a reader of the envelopes it ran with.
 */
async function observedFunction(): Promise<{ name: string; envelopes(): Promise<Envelope[]>; records(): Promise<SuccessRecord[]> }> {
  const name = uniqueName('trg');
  const stream = `OBS_${name.replace(/-/g, '_')}`;
  await jsm.streams.add({ name: stream, subjects: [`obs.${name}.>`] });
  await client.deploy({
    name,
    source: functionDir({ 'index.js': 'exports.handler = async (event) => ({ ok: true, subject: event.subject });' }),
    settings: { runtime: 'nodejs', handler: 'index.handler', async: { onSuccess: { kind: 'subject', target: `obs.${name}.ok` } } },
  });
  const records = async (): Promise<SuccessRecord[]> => {
    const info = await jsm.streams.info(stream);
    const out: SuccessRecord[] = [];
    for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq += 1) {
      const m = await jsm.streams.getMessage(stream, { seq });
      if (m) out.push(m.json<SuccessRecord>());
    }
    return out;
  };
  return { name, records, envelopes: async () => (await records()).map((r) => r.requestPayload) };
}

async function waitForEnvelopes(fn: { envelopes(): Promise<Envelope[]> }, count: number, timeoutMs = 20_000): Promise<Envelope[]> {
  let got: Envelope[] = [];
  await waitFor(`${count} runs`, async () => (got = await fn.envelopes()).length >= count, timeoutMs, 100);
  return got;
}

function publishJson(subject: string, value: unknown, hdrs: Record<string, string> = {}): void {
  const h = natsHeaders();
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  nc.publish(subject, JSON.stringify(value), { headers: h });
}

test('a subscribed function runs with the event envelope when a plain NATS client publishes to a matching subject', async () => {
  const fn = await observedFunction();
  const base = `shop.${fn.name}`;
  const trigger = await client.createTrigger(fn.name, `${base}.*`);
  expect(trigger).toMatchObject({ functionName: fn.name, subject: `${base}.*`, filter: '' });
  expect(trigger.id).toMatch(/^[0-9a-f]{12}$/);

  const before = Date.now();
  publishJson(`${base}.created`, { id: 1 }, { 'X-Shop': 'north' });
  nc.publish(`${base}.raw`, new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
  // Not matched by `${base}.*` (two more tokens): must not run the function.
  publishJson(`${base}.deep.x`, { id: 3 });
  await nc.flush();

  const got = await waitForEnvelopes(fn, 2);
  const json = got.find((e) => e.subject === `${base}.created`);
  const raw = got.find((e) => e.subject === `${base}.raw`);
  expect(json).toMatchObject({ data: { id: 1 }, trigger: trigger.id });
  expect(json?.headers['X-Shop']).toBe('north');
  expect(json?.dataEncoding).toBeUndefined();
  expect(Date.parse(json?.publishedAt ?? '')).toBeGreaterThanOrEqual(before - 1000);
  expect(json?.sequence).toBeGreaterThan(0);
  expect(raw).toMatchObject({ dataEncoding: 'base64', data: Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString('base64'), trigger: trigger.id });
  const records = await fn.records();
  expect(records.map((r) => r.requestContext.requestId).sort()).toEqual(got.map((e) => `evt-${trigger.id}-${e.sequence}`).sort());
  await sleep(1000);
  expect(await fn.envelopes()).toHaveLength(2);
});

test('each of two functions subscribed to one subject runs once per event, and a repeated Nats-Msg-Id is captured once, when events are published', async () => {
  const a = await observedFunction();
  const b = await observedFunction();
  const subject = `multi.${a.name}`;
  await client.createTrigger(a.name, `${subject}.>`);
  await client.createTrigger(b.name, `${subject}.*`);
  for (let n = 1; n <= 5; n += 1) publishJson(`${subject}.e`, { n }, { 'Nats-Msg-Id': `${a.name}-${n}` });
  // A publisher retrying event 3: deduplicated at capture.
  publishJson(`${subject}.e`, { n: 3 }, { 'Nats-Msg-Id': `${a.name}-3` });
  await nc.flush();
  const gotA = await waitForEnvelopes(a, 5);
  const gotB = await waitForEnvelopes(b, 5);
  await sleep(1500);
  for (const got of [await a.envelopes(), await b.envelopes()]) {
    expect(got).toHaveLength(5);
    expect(got.map((e) => (e.data as { n: number }).n).sort()).toEqual([1, 2, 3, 4, 5]);
  }
  // Both saw the same captured events.
  expect(gotA.map((e) => e.sequence).sort()).toEqual(gotB.map((e) => e.sequence).sort());
});

test('a filter skips events when their data does not match, and a deleted trigger runs nothing more', async () => {
  const fn = await observedFunction();
  const subject = `filtered.${fn.name}`;
  const trigger = await client.createTrigger(fn.name, subject, { filter: { path: 'type', equals: 'created' } });
  expect(JSON.parse(trigger.filter)).toEqual({ path: 'type', equals: 'created' });
  publishJson(subject, { type: 'created', n: 1 });
  publishJson(subject, { type: 'paid', n: 2 });
  nc.publish(subject, 'not json');
  publishJson(subject, { n: 4 });
  publishJson(subject, { type: 'created', n: 5 });
  await nc.flush();
  await waitForEnvelopes(fn, 2);
  await sleep(1500);
  expect((await fn.envelopes()).map((e) => (e.data as { n: number }).n).sort()).toEqual([1, 5]);

  expect((await client.listTriggers(fn.name)).map((t) => t.id)).toEqual([trigger.id]);
  await client.deleteTrigger(trigger.id);
  expect(await client.listTriggers(fn.name)).toEqual([]);
  await expect(client.deleteTrigger(trigger.id)).rejects.toMatchObject({ code: 'ResourceNotFound' });
  publishJson(subject, { type: 'created', n: 6 });
  await nc.flush();
  await sleep(1500);
  expect(await fn.envelopes()).toHaveLength(2);
});

test('creating a trigger fails with a clear InvalidRequest when the pattern overlaps stratus.> or another stream, or the filter is malformed', async () => {
  const fn = await observedFunction();
  await expect(client.createTrigger(fn.name, 'stratus.async.x')).rejects.toMatchObject({ code: 'InvalidRequest', message: expect.stringContaining('stratus.>') });
  await expect(client.createTrigger(fn.name, '*.created')).rejects.toMatchObject({ code: 'InvalidRequest' });
  await expect(client.createTrigger(fn.name, `obs.${fn.name}.*`)).rejects.toMatchObject({ code: 'InvalidRequest', message: expect.stringContaining(`OBS_${fn.name.replace(/-/g, '_')}`) });
  await expect(client.createTrigger(fn.name, 'ok.subject', { filter: '{"path":"a"}' })).rejects.toMatchObject({ code: 'InvalidRequest', message: expect.stringContaining('exactly one') });
  await expect(client.createTrigger(uniqueName('ghost'), 'ok.subject')).rejects.toMatchObject({ code: 'FunctionNotFound' });
  expect(await client.listTriggers(fn.name)).toEqual([]);
});

test('stratus publish through the CLI binary runs the subscribed function when the subject matches', async () => {
  const fn = await observedFunction();
  const subject = `cli.${fn.name}.ping`;
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), STRATUS_ENDPOINT: cluster.routers[0]?.address ?? '', STRATUS_TOKEN: cluster.apiToken };
  const cli = (args: string[]) => spawnSync(process.execPath, [distEntry('sdk/cli/main.js'), ...args], { env, encoding: 'utf8', timeout: 30_000 });

  const add = cli(['triggers', 'add', fn.name, `cli.${fn.name}.*`, '--filter', 'kind=ping', '--json']);
  expect(add.stderr).toBe('');
  expect(add.status).toBe(0);
  const trigger = JSON.parse(add.stdout) as { id: string; filter: unknown };
  expect(trigger.filter).toEqual({ path: 'kind', equals: 'ping' });

  const pub = cli(['publish', subject, '{"kind":"ping","n":1}', '--json']);
  expect(pub.status).toBe(0);
  expect(JSON.parse(pub.stdout)).toMatchObject({ captured: true, duplicate: false });
  const [env1] = await waitForEnvelopes(fn, 1);
  expect(env1).toMatchObject({ subject, data: { kind: 'ping', n: 1 }, trigger: trigger.id });

  const ls = cli(['triggers', 'ls', fn.name]);
  expect(ls.status).toBe(0);
  expect(ls.stdout).toContain(trigger.id);
  const unmatched = cli(['publish', `nobody.${fn.name}`, 'hello']);
  expect(unmatched.status).toBe(0);
  expect(unmatched.stdout).toContain('no trigger subscribes');
  const bad = cli(['publish', 'stratus.async.x', '{}']);
  expect(bad.status).toBe(3);
  expect(bad.stderr).toContain('InvalidRequest');
});

test('the SDK publish answers captured with a sequence, and a repeated msg id is a duplicate, when a trigger subscribes', async () => {
  const fn = await observedFunction();
  const subject = `sdk.${fn.name}.order`;
  await client.createTrigger(fn.name, `sdk.${fn.name}.*`);
  const first = await client.publish(subject, JSON.stringify({ n: 1 }), { msgId: `${fn.name}-1`, headers: { 'X-From': 'sdk' } });
  expect(first).toMatchObject({ captured: true, duplicate: false });
  expect(first.sequence).toBeGreaterThan(0);
  const again = await client.publish(subject, JSON.stringify({ n: 1 }), { msgId: `${fn.name}-1` });
  expect(again).toMatchObject({ captured: true, duplicate: true, sequence: first.sequence });
  const [e] = await waitForEnvelopes(fn, 1);
  expect(e).toMatchObject({ subject, data: { n: 1 }, sequence: first.sequence });
  expect(e?.headers['X-From']).toBe('sdk');
  await sleep(1000);
  expect(await fn.envelopes()).toHaveLength(1);
});

// Last: it replaces the cluster's only router.
test('events published while no router runs are delivered once when a new router starts', async () => {
  const fn = await observedFunction();
  const subject = `offline.${fn.name}`;
  await client.createTrigger(fn.name, subject);
  const old = cluster.routers[0];
  if (!old) throw new Error('no router');
  expect(await old.stop()).toBe(0);
  for (let n = 1; n <= 3; n += 1) publishJson(subject, { n });
  await nc.flush();
  await sleep(500);
  expect(await fn.envelopes()).toHaveLength(0);

  const fresh = await startRouter('router-late', { natsUrl: cluster.nats.url, apiToken: cluster.apiToken, clusterToken: cluster.clusterToken, logDir: cluster.logDir });
  cluster.routers.push(fresh);
  const got = await waitForEnvelopes(fn, 3, 30_000);
  await sleep(1500);
  expect((await fn.envelopes()).length).toBe(3);
  expect(got.map((e) => (e.data as { n: number }).n).sort()).toEqual([1, 2, 3]);
});
