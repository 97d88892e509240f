/**
 * The life of a function as users see it, against real nats-server, router and agent processes:
 * deploy, invoke, update, delete; warm reuse, concurrency, keep-alive; logs, handler styles,
 * context and environment.
 */
import type { StratusClient } from '../../sdk/client/stratus-client';
import type { FunctionSettings, InvokeResult } from '../../sdk/client/types';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { waitFor } from '../helpers/ports';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let cluster: TestCluster;
let client: StratusClient;

beforeAll(async () => {
  cluster = await startCluster({ agents: 1 });
  client = cluster.client();
}, 60_000);
afterAll(async () => cluster?.stop());

/** Deploys `files` under a fresh name as a nodejs function and returns the name. */
async function deploy(files: Record<string, string>, settings: FunctionSettings = {}, name = uniqueName('life')): Promise<string> {
  await client.deploy({ name, source: functionDir(files), settings: { runtime: 'nodejs', handler: 'index.handler', ...settings } });
  return name;
}

function json(r: InvokeResult): unknown {
  expect(r.functionError).toBeUndefined();
  return JSON.parse(r.payload.toString('utf8'));
}

describe('invoke', () => {
  test('invoke returns the JSON result, a request id and a sane report when the function succeeds', async () => {
    const name = await deploy({ 'index.js': 'exports.handler = async (event) => ({ got: event, sum: event.a + event.b });' });
    const r = await client.invoke(name, JSON.stringify({ a: 2, b: 3 }));
    expect(json(r)).toEqual({ got: { a: 2, b: 3 }, sum: 5 });
    expect(r.executedVersion).toBe('$LATEST');
    expect(r.requestId).toMatch(UUID);
    expect(r.logTail).toBe('');
    const report = r.report;
    expect(report).toBeDefined();
    expect(report?.coldStart).toBe(true);
    expect(report?.agentId).toBe('agent-1');
    expect(report?.memorySizeMb).toBe(128);
    expect(report?.durationMs).toBeGreaterThan(0);
    expect(report?.durationMs).toBeLessThan(3000);
    expect(report?.billedDurationMs).toBeGreaterThanOrEqual(Math.ceil(report?.durationMs ?? 0));
    expect(report?.maxMemoryUsedMb).toBeGreaterThan(0);
    expect(report?.maxMemoryUsedMb).toBeLessThanOrEqual(128);
    expect(report?.initDurationMs).toBeGreaterThan(0);
  });

  test('invoke hands the function an empty object when no payload is given', async () => {
    const name = await deploy({ 'index.js': 'exports.handler = async (event) => ({ event });' });
    expect(json(await client.invoke(name, undefined))).toEqual({ event: {} });
  });
});

describe('updates', () => {
  test('the next invocation runs the new code when the same name is deployed again with new files', async () => {
    const name = await deploy({ 'index.js': "exports.handler = async () => 'v1';" });
    expect(json(await client.invoke(name, '{}'))).toBe('v1');
    const result = await client.deploy({ name, source: functionDir({ 'index.js': "exports.handler = async () => 'v2';" }), settings: {} });
    expect(result).toMatchObject({ created: false, codeChanged: true });
    expect(json(await client.invoke(name, '{}'))).toBe('v2');
  });

  test('the next invocation sees a changed environment variable when the configuration is updated', async () => {
    const name = await deploy({ 'index.js': 'exports.handler = async () => process.env.GREETING ?? null;' }, { environment: { GREETING: 'hello' } });
    expect(json(await client.invoke(name, '{}'))).toBe('hello');
    const info = await client.updateFunctionConfiguration(name, { environment: { GREETING: 'bonjour' } });
    expect(info.config.environment).toEqual({ GREETING: 'bonjour' });
    expect(json(await client.invoke(name, '{}'))).toBe('bonjour');
  });

  test('invoke and get fail with FunctionNotFound when the function was deleted', async () => {
    const name = await deploy({ 'index.js': 'exports.handler = async () => 1;' });
    expect(json(await client.invoke(name, '{}'))).toBe(1);
    await client.deleteFunction(name);
    await expect(client.invoke(name, '{}')).rejects.toMatchObject({ code: 'FunctionNotFound' });
    await expect(client.getFunction(name)).rejects.toMatchObject({ code: 'FunctionNotFound' });
    await expect(client.deleteFunction(name)).rejects.toMatchObject({ code: 'FunctionNotFound' });
  });

  test('listFunctions shows every deployed function when several are deployed', async () => {
    const a = await deploy({ 'index.js': 'exports.handler = async () => 1;' }, { memoryMb: 256, description: 'first' });
    const b = await deploy({ 'index.js': 'exports.handler = async () => 2;' });
    const listed = await client.listFunctions();
    const byName = new Map(listed.map((f) => [f.config.name, f]));
    expect(byName.get(a)).toMatchObject({ version: '$LATEST', runtime: 'nodejs', config: { memoryMb: 256, description: 'first', handler: 'index.handler' } });
    expect(byName.get(b)).toMatchObject({ config: { memoryMb: 128, timeoutSeconds: 3 } });
    const got = await client.getFunction(a);
    expect(got.revisionId).toBe(byName.get(a)?.revisionId);
  });
});

describe('instances', () => {
  test('a warm instance keeps module state and skips init when invocations run one after another', async () => {
    const name = await deploy({ 'index.js': 'let n = 0; exports.handler = async () => ({ n: ++n, pid: process.pid });' });
    const results: InvokeResult[] = [];
    for (let i = 0; i < 4; i += 1) results.push(await client.invoke(name, '{}'));
    const bodies = results.map((r) => json(r) as { n: number; pid: number });
    expect(bodies.map((b) => b.n)).toEqual([1, 2, 3, 4]);
    expect(new Set(bodies.map((b) => b.pid)).size).toBe(1);
    expect(results.map((r) => r.report?.coldStart)).toEqual([true, false, false, false]);
    expect(results[0]?.report?.initDurationMs).toBeGreaterThan(0);
    for (const r of results.slice(1)) expect(r.report?.initDurationMs).toBeUndefined();
  });

  test('concurrent invocations run on separate instances when they overlap', async () => {
    const name = await deploy({
      'index.js':
        "const id = require('crypto').randomUUID();\n" +
        'exports.handler = async () => { await new Promise((r) => setTimeout(r, 500)); return { id }; };',
    });
    const started = Date.now();
    const results = await Promise.all([0, 1, 2, 3].map(() => client.invoke(name, '{}')));
    const elapsed = Date.now() - started;
    const ids = results.map((r) => (json(r) as { id: string }).id);
    expect(new Set(ids).size).toBe(4);
    // Serialised on one instance this would take at least 2000 ms.
    expect(elapsed).toBeLessThan(1600);
  });

  test('an idle instance stops after the keep-alive time and the next invocation is a cold start when nothing arrives meanwhile', async () => {
    // A slow periodic heartbeat: what GetCluster shows below must come from the agent advertising each change at once.
    const small = await startCluster({ agents: 1, agentEnv: { STRATUS_IDLE_TIMEOUT_MS: '1000', STRATUS_HEARTBEAT_MS: '2000' } });
    try {
      const c = small.client();
      const name = uniqueName('idle');
      await c.deploy({ name, source: functionDir({ 'index.js': 'exports.handler = async () => 1;' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
      const first = await c.invoke(name, '{}');
      expect(first.report?.coldStart).toBe(true);
      const counts = async (): Promise<{ idle: number; busy: number; starting: number }> => {
        const { agents } = await c.getCluster();
        const mine = agents.flatMap((a) => a.functions).filter((f) => f.functionName === name);
        return mine.reduce((n, f) => ({ idle: n.idle + f.idle, busy: n.busy + f.busy, starting: n.starting + f.starting }), { idle: 0, busy: 0, starting: 0 });
      };
      await waitFor('the idle warm instance to be advertised', async () => (await counts()).idle === 1, 500, 25);
      expect(await counts()).toEqual({ idle: 1, busy: 0, starting: 0 });
      await new Promise((r) => setTimeout(r, 2000));
      expect(await counts()).toEqual({ idle: 0, busy: 0, starting: 0 });
      const next = await c.invoke(name, '{}');
      expect(next.report?.coldStart).toBe(true);
      expect(next.report?.initDurationMs).toBeGreaterThan(0);
    } finally {
      await small.stop();
    }
  }, 30_000);
});

describe('logs', () => {
  test('the log tail holds the lines logged just before the result, on every invocation, when the output pipes and the Runtime API race', async () => {
    // 2 KB of output right before returning: the result can reach the agent before the pipe's last bytes do.
    const name = await deploy({ 'index.js': "exports.handler = async (e) => { for (let i = 0; i < 20; i++) console.log('x'.repeat(100)); console.log('last line ' + e.n); return e.n; };" });
    for (let n = 0; n < 30; n += 1) {
      const r = await client.invoke(name, JSON.stringify({ n }), { logType: 'Tail' });
      expect(r.logTail).toContain(`last line ${n}`);
    }
  });

  test('logType Tail returns START, END, REPORT and the function console lines tagged with the request id when asked for', async () => {
    const name = await deploy({ 'index.js': "exports.handler = async () => { console.log('hello', 42); console.error('oops'); return 1; };" });
    const r = await client.invoke(name, '{}', { logType: 'Tail' });
    const lines = r.logTail.split('\n').filter(Boolean);
    const id = r.requestId;
    expect(lines[0]).toBe(`START RequestId: ${id} Version: $LATEST`);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\t${id}\\tINFO\\thello 42$`)));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\S+Z\\t${id}\\tERROR\\toops$`)));
    expect(lines).toContain(`END RequestId: ${id}`);
    const report = lines[lines.length - 1] ?? '';
    expect(report).toMatch(new RegExp(`^REPORT RequestId: ${id}\\tDuration: [\\d.]+ ms\\tBilled Duration: \\d+ ms\\tMemory Size: 128 MB\\tMax Memory Used: \\d+ MB\\tInit Duration: [\\d.]+ ms`));
    // Warm: no Init Duration.
    const warm = await client.invoke(name, '{}', { logType: 'Tail' });
    expect(warm.logTail).toMatch(/REPORT RequestId: \S+\tDuration/);
    expect(warm.logTail).not.toContain('Init Duration');
    expect(warm.logTail).toContain(`\t${warm.requestId}\tINFO\thello 42`);
  });

  test('logTail is empty when logType Tail is not asked for', async () => {
    const name = await deploy({ 'index.js': "exports.handler = async () => { console.log('quiet'); return 1; };" });
    const r = await client.invoke(name, '{}');
    expect(json(r)).toBe(1);
    expect(r.logTail).toBe('');
    const none = await client.invoke(name, '{}', { logType: 'None' });
    expect(none.logTail).toBe('');
  });
});

describe('handlers and context', () => {
  test('a callback-style handler returns what it passes to the callback when it completes', async () => {
    const name = await deploy({
      'index.js': 'exports.handler = (event, context, callback) => { setTimeout(() => callback(null, { cb: event.x }), 20); };',
    });
    expect(json(await client.invoke(name, JSON.stringify({ x: 'yes' })))).toEqual({ cb: 'yes' });
  });

  test('an ES module handler runs when the handler file is .mjs', async () => {
    const name = await deploy(
      {
        'app.mjs': "import { platform } from 'node:os';\nconst loadedAt = await Promise.resolve('top-level await');\nexport const handler = async (event) => ({ esm: true, platform: platform(), loadedAt, echo: event });",
      },
      { handler: 'app.handler' },
    );
    expect(json(await client.invoke(name, '{"k":1}'))).toEqual({ esm: true, platform: process.platform, loadedAt: 'top-level await', echo: { k: 1 } });
  });

  test('context carries the function name, memory, request id and remaining time when the function runs', async () => {
    const name = await deploy(
      {
        'index.js':
          'exports.handler = async (event, context) => ({ functionName: context.functionName, functionVersion: context.functionVersion, ' +
          'memoryLimitInMB: context.memoryLimitInMB, awsRequestId: context.awsRequestId, remaining: context.getRemainingTimeInMillis(), ' +
          'arn: context.invokedFunctionArn, logGroupName: context.logGroupName });',
      },
      { memoryMb: 256, timeoutSeconds: 5 },
    );
    const r = await client.invoke(name, '{}');
    const ctx = json(r) as Record<string, unknown>;
    expect(ctx).toMatchObject({ functionName: name, functionVersion: '$LATEST', memoryLimitInMB: '256', awsRequestId: r.requestId, logGroupName: `/aws/lambda/${name}` });
    expect(ctx.arn).toMatch(new RegExp(`^arn:aws:lambda:[^:]+:\\d+:function:${name}$`));
    expect(ctx.remaining).toBeGreaterThan(0);
    expect(ctx.remaining).toBeLessThanOrEqual(5000);
    expect(r.report?.memorySizeMb).toBe(256);
  });

  test("the function sees Lambda's and its own environment variables but not the agent's when it reads process.env", async () => {
    const name = await deploy(
      { 'index.js': 'exports.handler = async () => process.env;' },
      { environment: { MY_SETTING: 'on', OTHER: 'x=y' } },
    );
    const env = json(await client.invoke(name, '{}')) as Record<string, string>;
    expect(env).toMatchObject({
      AWS_LAMBDA_FUNCTION_NAME: name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
      _HANDLER: 'index.handler',
      MY_SETTING: 'on',
      OTHER: 'x=y',
    });
    expect(env.AWS_REGION).toBeTruthy();
    expect(env.AWS_LAMBDA_RUNTIME_API).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(env.LAMBDA_TASK_ROOT).toBeTruthy();
    // STRATUS_TOKEN and STRATUS_ENDPOINT are the invocation's own role credentials and router address, nothing of the agent's.
    expect(env.STRATUS_TOKEN).toMatch(/^sts1\./);
    const leaked = Object.entries(env).filter(([k, v]) => (k.startsWith('STRATUS_') && k !== 'STRATUS_TOKEN' && k !== 'STRATUS_ENDPOINT') || v === cluster.clusterToken || v === cluster.apiToken);
    expect(leaked).toEqual([]);
  });
});
