/**
 * Schedules end to end: three real routers race for every tick of a short rate schedule
 * (STRATUS_SCHEDULE_MIN_PERIOD_MS lets the test use rate(2 seconds)); one is SIGKILLed, then all
 * stop and a new one starts. The fixture succeeds and its on-success destination subject is
 * captured by a stream the test creates; each record's requestPayload carries the tick, so
 * the test counts firings per tick.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { StratusClient } from '../../sdk/client/stratus-client';
import { BUCKETS } from '../../sdk/platform/nats-layout';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { waitFor } from '../helpers/ports';
import { distEntry, startRouter } from '../helpers/stratus-process';

const ROUTER_ENV = { STRATUS_SCHEDULE_MIN_PERIOD_MS: '1000', STRATUS_SCHEDULE_TAKEOVER_MS: '2000' };

interface Firing {
  requestId: string;
  schedule: string;
  tick: number;
}

let cluster: TestCluster;
let client: StratusClient;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  cluster = await startCluster({ routers: 3, agents: 1, routerEnv: ROUTER_ENV });
  client = cluster.client();
  nc = await connect({ servers: cluster.nats.url });
  jsm = await jetstreamManager(nc);
}, 60_000);
afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Deploys a function whose success records (carrying the tick) land in a fresh stream; returns a reader of its firings. */
async function observedFunction(): Promise<{ name: string; firings(): Promise<Firing[]> }> {
  const name = uniqueName('sched');
  const stream = `OBS_${name.replace(/-/g, '_')}`;
  await jsm.streams.add({ name: stream, subjects: [`obs.${name}.>`] });
  await client.deploy({
    name,
    source: functionDir({ 'index.js': 'exports.handler = async (event) => ({ ok: true, tick: event.tick });' }),
    settings: { runtime: 'nodejs', handler: 'index.handler', async: { onSuccess: { kind: 'subject', target: `obs.${name}.ok` } } },
  });
  return {
    name,
    firings: async () => {
      const info = await jsm.streams.info(stream);
      const out: Firing[] = [];
      for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq += 1) {
        const m = await jsm.streams.getMessage(stream, { seq });
        if (!m) continue;
        const rec = m.json<{ requestContext: { requestId: string }; requestPayload: { tick: number; schedule: string } }>();
        out.push({ requestId: rec.requestContext.requestId, schedule: rec.requestPayload.schedule, tick: rec.requestPayload.tick });
      }
      return out;
    },
  };
}

/** Ticks fired more than once. */
function repeated(firings: Firing[]): number[] {
  const seen = new Map<number, number>();
  for (const f of firings) seen.set(f.tick, (seen.get(f.tick) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([t]) => t);
}

const PAYLOAD = '{"tick":$epochMs,"schedule":"$schedule"}';

test('creating a schedule fails with InvalidRequest when the expression, zone or payload is wrong, and the CLI lists a cron schedule with its next tick', async () => {
  const fn = await observedFunction();
  await expect(client.createSchedule(fn.name, 'rate(5 fortnights)')).rejects.toMatchObject({ code: 'InvalidRequest', message: expect.stringContaining('rate(<number> <unit>)') });
  await expect(client.createSchedule(fn.name, 'cron(0 12 * * * *)')).rejects.toMatchObject({ code: 'InvalidRequest', message: expect.stringContaining("'?'") });
  await expect(client.createSchedule(fn.name, '0 12 * * *', { timezone: 'Nowhere/Land' })).rejects.toMatchObject({ code: 'InvalidRequest', message: expect.stringContaining('IANA') });
  await expect(client.createSchedule(fn.name, 'rate(5 minutes)', { payload: '{"t":$time}' })).rejects.toMatchObject({ code: 'InvalidRequest', message: expect.stringContaining('JSON') });
  await expect(client.createSchedule(uniqueName('ghost'), 'rate(5 minutes)')).rejects.toMatchObject({ code: 'FunctionNotFound' });

  const router = cluster.routers[0];
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), STRATUS_ENDPOINT: router?.address ?? '', STRATUS_TOKEN: cluster.apiToken };
  const cli = (args: string[]) => spawnSync(process.execPath, [distEntry('sdk/cli/main.js'), ...args], { env, encoding: 'utf8', timeout: 30_000 });
  const add = cli(['schedules', 'add', fn.name, 'cron(0 12 ? * MON-FRI *)', '--tz', 'Europe/Paris', '--missed', 'skip', '--json']);
  expect(add.stderr).toBe('');
  const created = JSON.parse(add.stdout) as { id: string; nextTick: string; missedTicks: string; timezone: string };
  expect(created).toMatchObject({ missedTicks: 'skip', timezone: 'Europe/Paris' });
  const next = new Date(created.nextTick);
  expect([1, 2, 3, 4, 5]).toContain(next.getUTCDay());
  expect(next.getUTCMinutes()).toBe(0);
  const ls = cli(['schedules', 'ls', fn.name]);
  expect(ls.stdout).toContain(created.id);
  expect(ls.stdout).toContain('cron(0 12 ? * MON-FRI *)');
  expect(cli(['schedules', 'rm', created.id]).status).toBe(0);
  expect(cli(['schedules', 'rm', created.id]).status).toBe(2);
  expect(cli(['schedules', 'add', fn.name, 'rate(1 minute)', '--missed', 'sometimes']).status).toBe(3);
});

test('a tick claimed by a router that died before enqueueing fires once when another router takes it over, and a claim past the safe window is abandoned', async () => {
  const fn = await observedFunction();
  const schedule = await client.createSchedule(fn.name, 'rate(1 hour)', { payload: PAYLOAD });
  const kv = await new Kvm(nc).open(BUCKETS.schedules);
  const key = `sched.${schedule.id}`;
  const entry = await kv.get(key);
  const record = entry?.json<{ state: { lastTickMs: number; inflight: unknown[] } }>();
  if (!entry || !record) throw new Error('schedule not stored');
  // As if router "ghost" won these ticks and died: one recent, one older than half the dedup window.
  const recent = schedule.created.getTime() - 3_600_000;
  const stale = recent - 3_600_000;
  const now = Date.now();
  record.state.inflight = [
    { tickMs: recent, claimedBy: 'ghost', claimedAtMs: now },
    { tickMs: stale, claimedBy: 'ghost', claimedAtMs: now - 301_000 },
  ];
  await kv.update(key, JSON.stringify(record), entry.revision);

  await waitFor('the recent tick to fire', async () => (await fn.firings()).length >= 1, 15_000, 200);
  await waitFor('both claims to be cleared', async () => (await kv.get(key))?.json<{ state: { inflight: unknown[] } }>().state.inflight.length === 0, 10_000, 200);
  await sleep(1000);
  const firings = await fn.firings();
  expect(firings.map((f) => f.tick)).toEqual([recent]);
  expect(firings[0]?.requestId).toBe(`sched-${schedule.id}-${recent}`);
  await client.deleteSchedule(schedule.id);
});

test('a rate schedule fires exactly once per tick when three routers race and one is SIGKILLed mid-test', async () => {
  const fn = await observedFunction();
  const schedule = await client.createSchedule(fn.name, 'rate(2 seconds)', { payload: PAYLOAD });
  expect(schedule).toMatchObject({ functionName: fn.name, expression: 'rate(2 seconds)', missedTicks: 'fire-once' });
  const created = schedule.created.getTime();
  expect(schedule.nextTick?.getTime()).toBe(created + 2000);

  await sleep(9000);
  const killedAt = Date.now();
  await cluster.routers[1]?.kill();
  await sleep(9000);
  await client.deleteSchedule(schedule.id);
  const deletedAt = Date.now();
  // Ticks claimed just before the delete, or taken over from the killed router, still land.
  await sleep(4000);

  const firings = await fn.firings();
  expect(repeated(firings)).toEqual([]);
  expect(new Set(firings.map((f) => f.requestId)).size).toBe(firings.length);
  for (const f of firings) {
    expect(f.requestId).toBe(`sched-${schedule.id}-${f.tick}`);
    expect((f.tick - created) % 2000).toBe(0);
  }
  const ticks = firings.map((f) => f.tick).sort((a, b) => a - b);
  // Every tick from the first through the last before the delete, none missing.
  const expected: number[] = [];
  for (let t = created + 2000; t < deletedAt - 2500; t += 2000) expected.push(t);
  expect(ticks.slice(0, expected.length)).toEqual(expected);
  expect(expected.length).toBeGreaterThanOrEqual(7);
  expect(ticks.some((t) => t > killedAt + 2000)).toBe(true);
}, 60_000);

test('ticks missed while no router runs fire once late with fire-once and not at all with skip', async () => {
  const fn = await observedFunction();
  const once = await client.createSchedule(fn.name, 'rate(3 seconds)', { payload: PAYLOAD, missedTicks: 'fire-once' });
  const skip = await client.createSchedule(fn.name, 'rate(3 seconds)', { payload: PAYLOAD, missedTicks: 'skip' });
  await waitFor('both schedules to fire', async () => new Set((await fn.firings()).map((f) => f.schedule)).size === 2, 15_000, 200);

  for (const r of cluster.routers) await r.stop();
  const stoppedAt = Date.now();
  await sleep(10_000);
  const restartAt = Date.now();
  const fresh = await startRouter('router-late', { natsUrl: cluster.nats.url, apiToken: cluster.apiToken, clusterToken: cluster.clusterToken, logDir: cluster.logDir, env: ROUTER_ENV });
  cluster.routers.push(fresh);
  const readyAt = Date.now();
  const late = cluster.client({}, [fresh]);
  await sleep(7000);
  await late.deleteSchedule(once.id);
  await late.deleteSchedule(skip.id);
  await sleep(3000);

  const firings = await fn.firings();
  const of = (id: string): number[] => firings.filter((f) => f.schedule === id).map((f) => f.tick);
  expect(repeated(firings.filter((f) => f.schedule === once.id))).toEqual([]);
  expect(repeated(firings.filter((f) => f.schedule === skip.id))).toEqual([]);
  // A tick this far before the restart was missed for sure (on time means within 1.5 s, half the period).
  const surelyMissed = (t: number): boolean => t > stoppedAt && t <= restartAt - 1600;
  expect(of(skip.id).filter(surelyMissed)).toEqual([]);
  expect(of(once.id).filter(surelyMissed).length).toBeLessThanOrEqual(1);
  // fire-once: the latest missed tick fired, late (it is at most 1.5 s younger than the restart).
  expect(of(once.id).filter((t) => t > stoppedAt && t <= readyAt).length).toBeGreaterThanOrEqual(1);
  // Both tick on after the restart.
  for (const id of [once.id, skip.id]) expect(of(id).filter((t) => t > readyAt).length).toBeGreaterThanOrEqual(1);
}, 70_000);
