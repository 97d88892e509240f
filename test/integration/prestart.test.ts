import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import type { StratusClient } from '../../sdk/client/stratus-client';

/**
 * Pre-started generic runtimes (node-agent/instances/prestart-pool.ts): a new instance takes a runtime that
 * was started in its sandbox ahead of demand, and must behave exactly as a freshly started one.
 * Whether an instance came from the pool shows in its process age when its module loads: a
 * pre-started process has been waiting, a fresh one started for this invocation.
 */
let cluster: TestCluster;
let client: StratusClient;

// Long enough that the pool is ready before each cold start; a fresh process is younger than this at import.
const POOL_READY_MS = 2500;
const FRESH_AGE_LIMIT_S = 1.5;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  cluster = await startCluster({ agents: 1, agentEnv: { STRATUS_PRESTART_NODEJS: '2', STRATUS_PRESTART_PYTHON: '2' } });
  client = cluster.client();
  await sleep(POOL_READY_MS);
}, 60_000);
afterAll(async () => cluster?.stop());

async function run(name: string, event: unknown = {}): Promise<{ result: any; errorType?: string; errorMessage?: string; initDurationMs?: number; coldStart?: boolean }> {
  const res = await client.invoke(name, JSON.stringify(event));
  return {
    result: JSON.parse(res.payload.toString() || 'null'),
    errorType: res.functionError?.errorType,
    errorMessage: res.functionError?.errorMessage,
    initDurationMs: res.report?.initDurationMs,
    coldStart: res.report?.coldStart,
  };
}

const NODE_PROBE = `
const fs = require('fs');
const atImport = { age: process.uptime(), secret: process.env.SECRET, name: process.env.AWS_LAMBDA_FUNCTION_NAME, memory: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
  initType: process.env.AWS_LAMBDA_INITIALIZATION_TYPE, cwd: process.cwd(), standbyVar: process.env.STRATUS_STANDBY_FD };
exports.handler = async (event) => {
  if (event.write) fs.writeFileSync('/tmp/' + event.write, 'x');
  return { ...atImport, task: fs.readdirSync('/var/task').sort(), opt: fs.readdirSync('/opt'), tmp: fs.readdirSync('/tmp'), other: process.env.OTHER_SECRET ?? null,
    fds: fs.readdirSync('/proc/self/fd').length, uid: process.getuid(), pids: fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).length };
};`;

const PY_PROBE = `
import os, time
def _age():
    with open('/proc/self/stat') as f:
        start = int(f.read().rsplit(')', 1)[1].split()[19]) / os.sysconf('SC_CLK_TCK')
    with open('/proc/uptime') as f:
        return float(f.read().split()[0]) - start
AT_IMPORT = {'age': _age(), 'secret': os.environ.get('SECRET'), 'name': os.environ.get('AWS_LAMBDA_FUNCTION_NAME'), 'standbyVar': os.environ.get('STRATUS_STANDBY_FD'), 'cwd': os.getcwd()}
def handler(event, context):
    return dict(AT_IMPORT, task=sorted(os.listdir('/var/task')), memory=context.memory_limit_in_mb, uid=os.getuid())
`;

describe('nodejs', () => {
  test('a pre-started instance sees the function\'s environment at import time and its code at /var/task', async () => {
    const name = uniqueName('pre-node');
    await client.deploy({ name, source: functionDir({ 'index.js': NODE_PROBE, 'lib/extra.js': 'module.exports = 1;' }), settings: { runtime: 'nodejs', handler: 'index.handler', environment: { SECRET: 's3cret-a' } } });
    const r = await run(name);
    expect(r.errorType).toBeUndefined();
    expect(r.coldStart).toBe(true);
    expect(r.result.age).toBeGreaterThan(FRESH_AGE_LIMIT_S);
    expect(r.result).toMatchObject({ secret: 's3cret-a', name, memory: '128', initType: 'on-demand', cwd: '/var/task', task: ['index.js', 'lib'], opt: [], tmp: [], uid: 993 });
    expect(r.result.standbyVar).toBeUndefined();
    // The init duration is the code load only.
    expect(r.initDurationMs).toBeLessThan(1000);
  });

  test('a second function gets a runtime of its own and sees nothing of the previous assignment', async () => {
    const first = uniqueName('pre-first');
    const second = uniqueName('pre-second');
    await client.deploy({ name: first, source: functionDir({ 'index.js': NODE_PROBE, 'first-only.txt': 'a' }), settings: { runtime: 'nodejs', handler: 'index.handler', environment: { OTHER_SECRET: 'from-first' } } });
    await client.deploy({ name: second, source: functionDir({ 'index.js': NODE_PROBE }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    await sleep(POOL_READY_MS);
    const a = await run(first, { write: 'left-by-first' });
    expect(a.result).toMatchObject({ other: 'from-first', task: ['first-only.txt', 'index.js'], tmp: ['left-by-first'] });
    expect(a.result.age).toBeGreaterThan(FRESH_AGE_LIMIT_S);
    const b = await run(second);
    expect(b.result.age).toBeGreaterThan(FRESH_AGE_LIMIT_S);
    expect(b.result).toMatchObject({ other: null, task: ['index.js'], tmp: [] });
    expect(b.result.secret).toBeUndefined();
    // Its own PID namespace: only the sandbox's init and the runtime.
    expect(b.result.pids).toBeLessThanOrEqual(3);
  });

  test('the function\'s memory limit applies after assignment when a pre-started function allocates past it', async () => {
    const name = uniqueName('pre-oom');
    await sleep(POOL_READY_MS);
    const hog = `const fs = require('fs');
      const age = process.uptime();
      exports.handler = async () => { const keep = []; for (let i = 0; i < 40; i++) keep.push(Buffer.alloc(16 * 1024 * 1024, i)); return { age, n: keep.length }; };`;
    await client.deploy({ name, source: functionDir({ 'index.js': hog }), settings: { runtime: 'nodejs', handler: 'index.handler', memoryMb: 128, timeoutSeconds: 30 } });
    const r = await run(name);
    expect(r.errorType).toBe('Runtime.OutOfMemory');
  }, 60_000);
});

describe('python', () => {
  test('a pre-started instance sees the function\'s environment at import time and its code at /var/task', async () => {
    const name = uniqueName('pre-py');
    await client.deploy({ name, source: functionDir({ 'app.py': PY_PROBE }), settings: { runtime: 'python', handler: 'app.handler', environment: { SECRET: 'py-secret' } } });
    const r = await run(name);
    expect(r.errorType).toBeUndefined();
    expect(r.result.age).toBeGreaterThan(FRESH_AGE_LIMIT_S);
    expect(r.result).toMatchObject({ secret: 'py-secret', name, cwd: '/var/task', task: ['app.py'], memory: '128', uid: 993 });
    expect(r.result.standbyVar).toBeNull();
  });

  test('a pre-started instance takes the function\'s larger memory size and is killed past it', async () => {
    const ok = uniqueName('pre-py-big');
    const hog = uniqueName('pre-py-hog');
    const alloc = (mb: number): string => `import os\nAGE = open('/proc/self/stat').read()\ndef handler(event, context):\n    block = bytearray(${mb} * 1024 * 1024)\n    for i in range(0, len(block), 4096):\n        block[i] = 1\n    return len(block) // (1024 * 1024)\n`;
    await client.deploy({ name: ok, source: functionDir({ 'app.py': alloc(300) }), settings: { runtime: 'python', handler: 'app.handler', memoryMb: 512, timeoutSeconds: 30 } });
    await client.deploy({ name: hog, source: functionDir({ 'app.py': alloc(400) }), settings: { runtime: 'python', handler: 'app.handler', memoryMb: 256, timeoutSeconds: 30 } });
    await sleep(POOL_READY_MS);
    // 300 MB is over the 128 MB a waiting runtime is booked for, within the function's 512.
    expect((await run(ok)).result).toBe(300);
    expect((await run(hog)).errorType).toBe('Runtime.OutOfMemory');
  }, 60_000);

  test('layers appear at /opt for a pre-started instance', async () => {
    const layer = await client.publishLayer(uniqueName('prelayer'), functionDir({ 'python/greeter.py': "def greet(n):\n    return f'hello {n} from a layer'\n", 'nodejs/node_modules/greeter/index.js': 'exports.greet = (n) => `hi ${n}`;' }));
    const py = uniqueName('pre-py-layer');
    const node = uniqueName('pre-node-layer');
    await client.deploy({ name: py, source: functionDir({ 'app.py': 'import time\nfrom greeter import greet\nAGE = time.monotonic()\ndef handler(e, c):\n    return greet(e["name"])\n' }), settings: { runtime: 'python', handler: 'app.handler', layers: [layer.ref] } });
    await client.deploy({ name: node, source: functionDir({ 'index.js': "const { greet } = require('greeter'); const age = process.uptime(); exports.handler = async (e) => ({ msg: greet(e.name), age });" }), settings: { runtime: 'nodejs', handler: 'index.handler', layers: [layer.ref] } });
    await sleep(POOL_READY_MS);
    expect((await run(py, { name: 'py' })).result).toBe('hello py from a layer');
    const n = await run(node, { name: 'node' });
    expect(n.result.msg).toBe('hi node');
    expect(n.result.age).toBeGreaterThan(FRESH_AGE_LIMIT_S);
  });
});

test('functions the pool cannot serve start fresh and still work when they turn networking off or set a start-time variable', async () => {
  const offline = uniqueName('pre-offline');
  const early = uniqueName('pre-early');
  const code = "const age = process.uptime(); exports.handler = async () => ({ age, opts: process.env.NODE_OPTIONS ?? null });";
  await client.deploy({ name: offline, source: functionDir({ 'index.js': code }), settings: { runtime: 'nodejs', handler: 'index.handler', networkDisabled: true } });
  await client.deploy({ name: early, source: functionDir({ 'index.js': code }), settings: { runtime: 'nodejs', handler: 'index.handler', environment: { NODE_OPTIONS: '--no-warnings' } } });
  const a = await run(offline);
  expect(a.errorType).toBeUndefined();
  expect(a.result.age).toBeLessThan(FRESH_AGE_LIMIT_S);
  const b = await run(early);
  expect(b.result).toMatchObject({ opts: '--no-warnings' });
  expect(b.result.age).toBeLessThan(FRESH_AGE_LIMIT_S);
});

test('waiting runtimes give their room to an instance when the agent\'s memory is full of them', async () => {
  // 512 MB: the two nodejs and two python runtimes (128 MB each) book all of it.
  const small = await startCluster({ agents: 1, agentEnv: { STRATUS_AGENT_MEMORY_MB: '512', STRATUS_PRESTART_NODEJS: '2', STRATUS_PRESTART_PYTHON: '2' } });
  try {
    const c = small.client();
    await sleep(POOL_READY_MS);
    const name = uniqueName('pre-room');
    await c.deploy({ name, source: functionDir({ 'index.js': 'exports.handler = async () => process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE;' }), settings: { runtime: 'nodejs', handler: 'index.handler', memoryMb: 384 } });
    const res = await c.invoke(name, '{}');
    expect(res.functionError).toBeUndefined();
    expect(JSON.parse(res.payload.toString())).toBe('384');
  } finally {
    await small.stop();
  }
}, 60_000);
