/**
 * Observability end to end, with real routers, agents and JetStream: every line a function writes
 * reaches its log stream in order and tagged with its request id; `stratus logs --follow` shows a
 * line as it is written; the stream outlives the router that served it; a flood past the budget is
 * counted as dropped; every entry point leaves an invocation record; and the metrics move by
 * exactly what a known mix of invocations did.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StratusClient } from '../../sdk/client/stratus-client';
import type { LogEntry } from '../../sdk/core/function-logs';
import type { InvocationRecord } from '../../sdk/core/invocation-record';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { waitFor } from '../helpers/ports';
import { distEntry, startRouter } from '../helpers/stratus-process';

const CLI = distEntry('sdk/cli/main.js');

async function collect(it: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
  const out: LogEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** The sum of a metric's samples whose labels include every one of `labels`. */
function sample(text: string, metric: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== metric) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

describe('log streams, invocation records and metrics', () => {
  let cluster: TestCluster;
  let client: StratusClient;
  const cliEnv = (): Record<string, string> => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), STRATUS_ENDPOINT: cluster.routers[0]!.address, STRATUS_TOKEN: cluster.apiToken, STRATUS_CONFIG: path.join(mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'c.json') });

  beforeAll(async () => {
    cluster = await startCluster({ routers: 2, agents: 1, routerEnv: { STRATUS_PLACEMENT_WAIT_MS: '200', STRATUS_SCHEDULE_MIN_PERIOD_MS: '1000' } });
    client = cluster.client();
  }, 90_000);
  afterAll(async () => cluster?.stop());

  test('10,000 lines over 100 invocations: every line in the stream, in order per invocation, with its request id', async () => {
    const fn = uniqueName('o-lines');
    await client.deploy({
      name: fn,
      source: functionDir({ 'index.js': 'exports.handler = async (e) => { for (let i = 0; i < 100; i += 1) console.log(`line ${e.n} ${i}`); return e.n; };' }),
      settings: { runtime: 'nodejs', handler: 'index.handler' },
    });
    const since = Date.now() - 1000;
    const ids = new Map<string, number>();
    for (let n = 0; n < 100; n += 1) ids.set((await client.invoke(fn, JSON.stringify({ n }))).requestId, n);
    let lines: LogEntry[] = [];
    await waitFor('every line to be stored', async () => {
      lines = await collect(client.logs(fn, { since }));
      return lines.filter((l) => l.source === 'stdout').length >= 10_000 && lines.filter((l) => l.message.startsWith('REPORT')).length >= 100;
    }, 30_000, 250);
    const byRequest = new Map<string, LogEntry[]>();
    for (const l of lines) byRequest.set(l.requestId, [...(byRequest.get(l.requestId) ?? []), l]);
    expect(byRequest.size).toBe(100);
    for (const [id, n] of ids) {
      const own = byRequest.get(id)!;
      expect(own.filter((l) => l.source === 'stdout').map((l) => l.message.split('\t').pop())).toEqual(Array.from({ length: 100 }, (_, i) => `line ${n} ${i}`));
      expect(own.filter((l) => l.source === 'stdout').every((l) => l.level === 'INFO')).toBe(true);
      // START first, END and REPORT last, each once.
      expect(own[0]!.message).toBe(`START RequestId: ${id} Version: $LATEST`);
      expect(own.at(-2)!.message).toBe(`END RequestId: ${id}`);
      expect(own.at(-1)!.message).toMatch(new RegExp(`^REPORT RequestId: ${id}\\tDuration: `));
      expect(own.every((l) => l.droppedLines === 0)).toBe(true);
    }
    // One invocation's lines, by request id and through a filter, from the other router.
    const [someId, someN] = [...ids][42]!;
    const other = cluster.client({}, [cluster.routers[1]!]);
    expect((await collect(other.logs(fn, { since, requestId: someId }))).filter((l) => l.source === 'stdout')).toHaveLength(100);
    expect((await collect(other.logs(fn, { since, filter: `LINE ${someN} 7` }))).map((l) => l.message.split('\t').pop())).toEqual([`line ${someN} 7`, ...Array.from({ length: 10 }, (_, i) => `line ${someN} 7${i}`)]);
    expect(await collect(other.logs(fn, { since, limit: 3 }))).toHaveLength(3);
  }, 120_000);

  test('logs --follow prints a line within a second of the function writing it', async () => {
    const fn = uniqueName('o-follow');
    await client.deploy({ name: fn, source: functionDir({ 'index.js': 'exports.handler = async (e) => { console.log(`marker ${e.m}`); return "ok"; };' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    await client.invoke(fn, JSON.stringify({ m: 'warm-up' }));
    const cli = spawn(process.execPath, [CLI, 'logs', fn, '--follow', '--json'], {
      env: cliEnv(),
    });
    const seen: Array<{ entry: LogEntry; at: number }> = [];
    let buffered = '';
    cli.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const p of parts) if (p) seen.push({ entry: JSON.parse(p) as LogEntry, at: Date.now() });
    });
    try {
      // The follow is open once it passes the lines already stored (or after a moment when none are new).
      await new Promise((r) => setTimeout(r, 1500));
      const marker = `m-${Date.now()}`;
      const before = Date.now();
      const res = await client.invoke(fn, JSON.stringify({ m: marker }));
      await waitFor('the line to reach the follower', async () => seen.some((s) => s.entry.message.endsWith(`marker ${marker}`)), 5000, 20);
      const line = seen.find((s) => s.entry.message.endsWith(`marker ${marker}`))!;
      expect(line.entry.requestId).toBe(res.requestId);
      expect(line.at - Math.max(before, line.entry.timeMs)).toBeLessThan(1000);
    } finally {
      cli.kill('SIGINT');
    }
  }, 60_000);

  test('the log stream outlives the router that placed the invocations: a new router reads it', async () => {
    const fn = uniqueName('o-survive');
    const doomed = await startRouter('router-doomed', { natsUrl: cluster.nats.url, apiToken: cluster.apiToken, clusterToken: cluster.clusterToken, logDir: cluster.logDir });
    const viaDoomed = cluster.client({}, [doomed]);
    await waitFor('the new router to see the agent', async () => (await viaDoomed.getCluster()).agents.length === 1, 20_000, 100);
    await viaDoomed.deploy({ name: fn, source: functionDir({ 'index.js': 'exports.handler = async () => { console.log("kept"); return 1; };' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    const { requestId } = await viaDoomed.invoke(fn, '{}');
    await waitFor('the line to be stored', async () => (await collect(viaDoomed.logs(fn, { requestId }))).some((l) => l.message.endsWith('kept')), 10_000, 100);
    await doomed.kill();
    const fresh = await startRouter('router-fresh', { natsUrl: cluster.nats.url, apiToken: cluster.apiToken, clusterToken: cluster.clusterToken, logDir: cluster.logDir });
    try {
      const lines = await collect(cluster.client({}, [fresh]).logs(fn, { requestId }));
      expect(lines.map((l) => l.source)).toEqual(['platform', 'stdout', 'platform', 'platform']);
      expect(lines[1]!.message).toMatch(/\tINFO\tkept$/);
    } finally {
      await fresh.stop(10_000);
    }
  }, 90_000);

  test('every entry point leaves an invocation record, queryable by trigger, status and request id', async () => {
    const fn = uniqueName('o-records');
    await client.deploy({
      name: fn,
      source: functionDir({ 'index.js': 'exports.handler = async (e) => { console.log("ran", JSON.stringify(e).slice(0, 40)); if (e && e.fail) throw new TypeError("asked to fail"); return { statusCode: 200, body: "ok" }; };' }),
      settings: { runtime: 'nodejs', handler: 'index.handler', async: { maxRetryAttempts: 0 } },
    });
    const since = Date.now() - 1000;
    const sync = await client.invoke(fn, '{}');
    const failed = await client.invoke(fn, '{"fail":true}');
    const asyncId = (await client.invokeAsync(fn, '{}')).requestId;
    await client.createRoute('GET', `/${fn}`, fn, { auth: 'none' });
    await waitFor('the route to serve', async () => (await fetch(`http://127.0.0.1:${cluster.routers[0]!.httpPort}/${fn}`)).status === 200, 10_000, 100);
    const trigger = await client.createTrigger(fn, `obs.${fn}.in`);
    await client.publish(`obs.${fn}.in`, '{"via":"subject"}');
    const schedule = await client.createSchedule(fn, 'rate(1 second)');
    const table = `t_${fn.replace(/-/g, '_')}`;
    await client.tables.create(table);
    const mapping = await client.mappings.create(fn, { kind: 'table', name: table, filter: '' });
    await client.tables.put(table, 'k', '{"v":1}');

    const all = async (): Promise<InvocationRecord[]> => (await client.invocations.list(fn, { since, limit: 1000 })).invocations;
    await waitFor('a record from every entry point', async () => {
      const triggers = new Set((await all()).map((r) => r.trigger));
      return ['sync', 'async', 'http', 'trigger', 'schedule', 'mapping'].every((t) => triggers.has(t as InvocationRecord['trigger']));
    }, 30_000, 250);
    await client.deleteSchedule(schedule.id);
    const records = await all();
    // Newest first.
    expect(records.map((r) => r.startMs)).toEqual([...records.map((r) => r.startMs)].sort((a, b) => b - a));
    const byId = (id: string): InvocationRecord => records.find((r) => r.requestId === id)!;
    expect(byId(sync.requestId)).toMatchObject({ functionName: fn, version: '$LATEST', trigger: 'sync', status: 'Success', errorType: '', memoryMb: 128, coldStart: true });
    expect(byId(sync.requestId).initDurationMs).toBeGreaterThan(0);
    expect(byId(sync.requestId).agentId).toBe(sync.report!.agentId);
    expect(byId(sync.requestId).billedDurationMs).toBe(sync.report!.billedDurationMs);
    expect(byId(failed.requestId)).toMatchObject({ trigger: 'sync', status: 'Error', errorType: 'TypeError', errorMessage: 'asked to fail', coldStart: false });
    expect(byId(asyncId)).toMatchObject({ trigger: 'async', status: 'Success' });
    expect(byId(asyncId).queueWaitMs).toBeGreaterThanOrEqual(0);
    expect(records.find((r) => r.trigger === 'trigger')).toMatchObject({ source: trigger.id, status: 'Success' });
    expect(records.find((r) => r.trigger === 'schedule')).toMatchObject({ source: schedule.id });
    expect(records.find((r) => r.trigger === 'mapping')).toMatchObject({ source: mapping.id });
    expect(records.find((r) => r.trigger === 'http')).toMatchObject({ source: `GET /${fn}`, status: 'Success' });

    // Filters.
    expect((await client.invocations.list(fn, { since, trigger: 'http' })).invocations.every((r) => r.trigger === 'http')).toBe(true);
    expect((await client.invocations.list(fn, { since, statuses: ['Error'] })).invocations.map((r) => r.requestId)).toEqual([failed.requestId]);
    expect((await client.invocations.list(fn, { since, limit: 2 })).invocations).toHaveLength(2);
    expect((await client.invocations.list(fn, { since: Date.now() + 60_000 })).invocations).toEqual([]);

    // One record with its lines, by id alone, and through the CLI.
    const shown = await client.invocations.get(failed.requestId);
    expect(shown.invocation.requestId).toBe(failed.requestId);
    expect(shown.lines.map((l) => l.source)).toEqual(['platform', 'stdout', 'stdout', 'platform', 'platform']);
    expect(shown.lines.find((l) => l.level === 'ERROR')?.message).toMatch(/asked to fail/);
    expect(shown.lines.every((l) => l.requestId === failed.requestId)).toBe(true);
    const env = cliEnv();
    const run = (args: string[]): Promise<{ code: number | null; out: string }> =>
      new Promise((resolve) => {
        const p = spawn(process.execPath, [CLI, ...args], { env });
        let out = '';
        p.stdout.on('data', (c: Buffer) => (out += c.toString()));
        p.on('exit', (code) => resolve({ code, out }));
      });
    const errors = await run(['invocations', fn, '--errors', '--json']);
    expect(errors.code).toBe(0);
    expect((JSON.parse(errors.out) as { invocations: InvocationRecord[] }).invocations.map((r) => r.requestId)).toEqual([failed.requestId]);
    const table_ = await run(['invocations', 'show', failed.requestId, '--function', fn]);
    expect(table_.code).toBe(0);
    expect(table_.out).toContain('Error: TypeError');
    expect(table_.out).toContain('asked to fail');
    const missing = await run(['invocations', 'show', 'no-such-request', '--function', fn]);
    expect(missing.code).not.toBe(0);
  }, 120_000);

  test("logs and records are the function owner's: another tenant and an unauthenticated caller are refused", async () => {
    const fn = uniqueName('o-private');
    await client.deploy({ name: fn, source: functionDir({ 'index.js': 'exports.handler = async () => { console.log("secret"); return 1; };' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    const { requestId } = await client.invoke(fn, '{}');
    await waitFor('the record to be stored', async () => (await client.invocations.list(fn)).invocations.length === 1, 10_000, 100);
    const { token } = await client.auth.createToken({ tenant: `other${process.pid}`, principal: 'mallory' });
    const mallory = cluster.client({ token, maxAttempts: 1 });
    await expect(collect(mallory.logs(fn))).rejects.toMatchObject({ code: 'AccessDenied' });
    await expect(mallory.invocations.list(fn)).rejects.toMatchObject({ code: 'AccessDenied' });
    await expect(mallory.invocations.get(requestId)).rejects.toMatchObject({ code: 'ResourceNotFound' });
    expect((await mallory.invocations.list('')).invocations.filter((r) => r.functionName === fn)).toEqual([]);
    const anonymous = cluster.client({ token: () => '', maxAttempts: 1 });
    await expect(collect(anonymous.logs(fn))).rejects.toMatchObject({ code: 'Unauthenticated' });
    await expect(anonymous.invocations.list(fn)).rejects.toMatchObject({ code: 'Unauthenticated' });
  }, 60_000);

  test('metrics move by exactly the counts of a known mix of successes, errors, throttles and cold starts', async () => {
    const fn = uniqueName('o-metrics');
    await client.deploy({
      name: fn,
      source: functionDir({ 'index.js': 'exports.handler = async (e) => { if (e.fail) throw new RangeError("no"); if (e.sleep) await new Promise((r) => setTimeout(r, e.sleep)); return 1; };' }),
      settings: { runtime: 'nodejs', handler: 'index.handler', reservedConcurrency: 1 },
    });
    const router = cluster.routers[0]!;
    const agent = cluster.agents[0]!;
    // No client retries: the throttle is the caller's to see.
    const only = cluster.client({ maxAttempts: 1 }, [router]);
    for (let i = 0; i < 3; i += 1) await only.invoke(fn, '{}');
    for (let i = 0; i < 2; i += 1) await only.invoke(fn, '{"fail":true}');
    // One long call holds the only reserved instance; a second one meanwhile is throttled.
    const long = only.invoke(fn, '{"sleep":1500}');
    await new Promise((r) => setTimeout(r, 300));
    await expect(only.invoke(fn, '{}')).rejects.toMatchObject({ code: 'TooManyRequests' });
    await long;

    const text = await scrape(router.httpPort);
    const f = { faas_name: fn };
    expect(sample(text, 'faas_invocations_total', f)).toBe(4);
    expect(sample(text, 'faas_errors_total', { ...f, error_type: 'RangeError' })).toBe(2);
    expect(sample(text, 'faas_errors_total', f)).toBe(2);
    expect(sample(text, 'stratus_throttles_total', { ...f, faas_trigger: 'other', stratus_trigger: 'sync' })).toBe(1);
    expect(sample(text, 'faas_coldstarts_total', f)).toBe(1);
    expect(sample(text, 'faas_init_duration_count', f)).toBe(1);
    expect(sample(text, 'faas_invoke_duration_count', f)).toBe(6);
    expect(sample(text, 'faas_timeouts_total', f)).toBe(0);
    expect(sample(text, 'stratus_concurrent_executions', f)).toBe(0);
    expect(text).toMatch(/^# TYPE faas_invoke_duration histogram$/m);

    const agentText = await scrape(agent.httpPort);
    expect(sample(agentText, 'faas_coldstarts_total', f)).toBe(1);
    expect(sample(agentText, 'stratus_agent_invocations_total', { ...f, status: 'success' })).toBe(4);
    expect(sample(agentText, 'stratus_agent_invocations_total', { ...f, status: 'error' })).toBe(2);
    expect(sample(agentText, 'stratus_agent_instances', { ...f, state: 'idle' })).toBe(1);
    expect(sample(agentText, 'stratus_agent_instances', { ...f, state: 'busy' })).toBe(0);
    expect(sample(agentText, 'stratus_agent_memory_capacity', {})).toBeGreaterThan(0);
    expect(sample(agentText, 'stratus_agent_slots_capacity', {})).toBeGreaterThan(0);
    expect(sample(agentText, 'stratus_logs_lines_total', f)).toBeGreaterThanOrEqual(6 * 3);
    expect(sample(agentText, 'stratus_logs_dropped_total', f)).toBe(0);
    // No per-request labels anywhere.
    expect(text).not.toMatch(/request_?id=/i);
    expect(agentText).not.toMatch(/request_?id=/i);
  }, 60_000);
});

describe('a function logging past its budget', () => {
  let cluster: TestCluster;
  let client: StratusClient;

  beforeAll(async () => {
    cluster = await startCluster({ agents: 1, agentEnv: { STRATUS_LOG_BUDGET_KB_PER_SECOND: '64', STRATUS_LOG_BURST_KB: '128' } });
    client = cluster.client();
  }, 60_000);
  afterAll(async () => cluster?.stop());

  test('loses lines, not time: the drop is counted, marked in the stream, and the invocation is unharmed', async () => {
    const fn = uniqueName('o-flood');
    await client.deploy({
      name: fn,
      source: functionDir({ 'index.js': 'exports.handler = async (e) => { const line = "x".repeat(1000); for (let i = 0; i < (e.lines || 0); i += 1) console.log(i, line); console.log("done"); return "ok"; };' }),
      settings: { runtime: 'nodejs', handler: 'index.handler', timeoutSeconds: 30 },
    });
    await client.invoke(fn, '{}');
    const flood = await client.invoke(fn, '{"lines":5000}', { logType: 'Tail' });
    expect(flood.payload.toString()).toBe('"ok"');
    // The tail is the invocation's own: the budget limits the stream, not what the caller gets back.
    expect(flood.logTail).toMatch(/REPORT RequestId/);
    const agentText = async (): Promise<string> => (await fetch(`http://127.0.0.1:${cluster.agents[0]!.httpPort}/metrics`)).text();
    let dropped = 0;
    await waitFor('the drop to be counted', async () => (dropped = sample(await agentText(), 'stratus_logs_dropped_total', { faas_name: fn, reason: 'budget' })) > 0, 10_000, 100);
    let lines: LogEntry[] = [];
    const marked = (): number => lines.filter((l) => l.droppedLines > 0).reduce((n, l) => n + l.droppedLines, 0);
    const kept = (): number => lines.filter((l) => l.source === 'stdout').length;
    // Every line is either in the stream or counted in a marker: none vanished silently.
    await waitFor('every line to be stored or counted', async () => {
      lines = await collect(client.logs(fn, { requestId: flood.requestId }));
      return kept() + marked() === 5001;
    }, 15_000, 200);
    expect(marked()).toBeGreaterThan(0);
    expect(marked()).toBe(sample(await agentText(), 'stratus_logs_dropped_total', { faas_name: fn, reason: 'budget' }));
    expect(dropped).toBeGreaterThan(0);
    expect(lines.filter((l) => l.droppedLines > 0)[0]!.message).toMatch(/STRATUS_LOGS_DROPPED \d+ line\(s\) were not kept/);
    // The platform lines are never the ones dropped.
    expect(lines.filter((l) => l.source === 'platform' && l.droppedLines === 0).map((l) => l.message.split(' ')[0])).toEqual(['START', 'END', 'REPORT']);
  }, 60_000);
});
