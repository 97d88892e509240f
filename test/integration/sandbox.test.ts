import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import type { StratusClient } from '../../sdk/client/stratus-client';

/**
 * Each test is an attempt a hostile function makes; the sandbox must refuse it and the agent and
 * other instances must be unharmed. Runs with the default (bubblewrap + cgroups) sandbox.
 */
let cluster: TestCluster;
let client: StratusClient;
let dataDir: string;

async function deploy(name: string, code: string, settings: Record<string, unknown> = {}): Promise<void> {
  await client.deploy({ name, source: functionDir({ 'index.js': code }), settings: { runtime: 'nodejs', handler: 'index.handler', ...settings } });
}

async function run(name: string, event: unknown = {}): Promise<{ result: unknown; errorType?: string; errorMessage?: string }> {
  const res = await client.invoke(name, JSON.stringify(event));
  return { result: JSON.parse(res.payload.toString() || 'null'), errorType: res.functionError?.errorType, errorMessage: res.functionError?.errorMessage };
}

const victim = uniqueName('victim');

beforeAll(async () => {
  cluster = await startCluster({ agents: 1 });
  client = cluster.client();
  dataDir = cluster.agents[0]!.env.STRATUS_DATA_DIR!;
  await deploy(victim, "exports.handler = async () => 'alive'; // SECRET-IN-VICTIM-CODE");
  expect((await run(victim)).result).toBe('alive');
}, 60_000);
afterAll(async () => cluster?.stop());

/** A probe function: runs `body` (which returns a value) with fs, path and child_process in scope. */
function probe(body: string): string {
  return `const fs = require('fs'); const path = require('path'); const cp = require('child_process');
  exports.handler = async (event) => { ${body} };`;
}

test('a function cannot read another function\'s code or the agent\'s data directory when it looks for them', async () => {
  const name = uniqueName('snoop');
  await deploy(name, probe(`
    const tryRead = (p) => { try { return fs.readdirSync(p); } catch (e) { return e.code; } };
    return { dataDir: tryRead(event.dataDir), codeDir: tryRead(path.join(event.dataDir, 'code')), task: fs.readdirSync('/var/task'), opt: tryRead('/opt') };`));
  const { result } = await run(name, { dataDir });
  expect(result).toEqual({ dataDir: 'ENOENT', codeDir: 'ENOENT', task: ['index.js'], opt: [] });
});

test('a function sees neither the agent\'s environment nor other processes when it inspects them', async () => {
  const name = uniqueName('env');
  await deploy(name, probe(`
    const pids = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).map(Number);
    return { uid: process.getuid(), stratusVars: Object.keys(process.env).filter((k) => k.startsWith('STRATUS') || k.startsWith('OTEL')), pids, init: fs.readFileSync('/proc/1/cmdline', 'utf8').split('\\0')[0] };`));
  const { result } = await run(name) as { result: { uid: number; stratusVars: string[]; pids: number[]; init: string } };
  expect(result.uid).toBe(993);
  // Only the invocation's own credentials and router address (README "Security"), nothing of the agent's.
  expect(result.stratusVars.sort()).toEqual(['STRATUS_ENDPOINT', 'STRATUS_TOKEN']);
  // Only the sandbox's own init and the runtime: no agent, no other instance.
  expect(result.pids.length).toBeLessThanOrEqual(3);
  expect(result.init).not.toContain('node-agent');
});

test('writes outside /tmp fail and /tmp is private when a function tries to change the system', async () => {
  const name = uniqueName('writer');
  await deploy(name, probe(`
    const tryWrite = (p) => { try { fs.writeFileSync(p, 'x'); return 'written'; } catch (e) { return e.code; } };
    return { task: tryWrite('/var/task/evil.js'), etc: tryWrite('/etc/evil'), usr: tryWrite('/usr/evil'), tmp: tryWrite('/tmp/mine'), tmpFiles: fs.readdirSync('/tmp') };`));
  const { result } = await run(name);
  expect(result).toEqual({ task: 'EROFS', etc: 'EROFS', usr: 'EROFS', tmp: 'written', tmpFiles: ['mine'] });
});

test('/tmp refuses writes past the ephemeral storage size when a function fills it', async () => {
  const name = uniqueName('filler');
  await deploy(
    name,
    probe(`
    const chunk = Buffer.alloc(16 * 1024 * 1024, 1); let written = 0; let error = null;
    try { for (let i = 0; i < 64; i++) { fs.appendFileSync('/tmp/fill', chunk); written += chunk.length; } } catch (e) { error = e.code; }
    fs.rmSync('/tmp/fill', { force: true });
    return { writtenMb: written / 1024 / 1024, error };`),
    { memoryMb: 1024, ephemeralStorageMb: 512, timeoutSeconds: 30 },
  );
  const { result } = await run(name) as { result: { writtenMb: number; error: string } };
  expect(result.error).toBe('ENOSPC');
  expect(result.writtenMb).toBeLessThanOrEqual(512);
  expect(result.writtenMb).toBeGreaterThanOrEqual(400);
});

test('allocating past the memory size fails the invocation with Runtime.OutOfMemory and harms no one else', async () => {
  const name = uniqueName('hog');
  await deploy(name, probe(`const keep = []; for (;;) { keep.push(Buffer.alloc(8 * 1024 * 1024, 1)); }`), { memoryMb: 128, timeoutSeconds: 20 });
  const res = await run(name);
  expect(res.errorType).toBe('Runtime.OutOfMemory');
  expect(res.errorMessage).toContain('128 MB');
  expect((await run(victim)).result).toBe('alive');
  const health = await fetch(`http://127.0.0.1:${cluster.agents[0]!.httpPort}/readyz`);
  expect(health.status).toBe(200);
});

test('a fork bomb is stopped at the process cap and its processes die with the instance when the function times out', async () => {
  const name = uniqueName('forker');
  const marker = `stratus-forkbomb-${process.pid}`;
  await deploy(
    name,
    probe(`
    let started = 0; let refused = null;
    for (let i = 0; i < 5000; i++) {
      try { const c = cp.spawn('/bin/sleep', ['300'], { argv0: '${marker}', stdio: 'ignore' }); c.on('error', (e) => { refused = refused || e.code; }); started++; }
      catch (e) { refused = e.code; break; }
    }
    await new Promise((r) => setTimeout(r, 500));
    await new Promise(() => {});`),
    { memoryMb: 512, timeoutSeconds: 4 },
  );
  const res = await run(name);
  expect(res.errorType).toBe('Sandbox.Timedout');
  const during = Number(execFileSync('sh', ['-c', `pgrep -f '[${marker[0]}]${marker.slice(1)}' | wc -l`], { encoding: 'utf8' }).trim());
  await new Promise((r) => setTimeout(r, 1000));
  // The bracket keeps the pattern from matching this shell's own command line.
  const left = execFileSync('sh', ['-c', `pgrep -f '[${marker[0]}]${marker.slice(1)}' | wc -l`], { encoding: 'utf8' }).trim();
  expect(left).toBe('0');
  expect(during).toBeLessThan(1024);
  expect((await run(victim)).result).toBe('alive');
});

test('an infinite loop times out and leaves no process behind when the function never returns', async () => {
  const name = uniqueName('spinner');
  await deploy(name, probe(`for (;;) {}`), { timeoutSeconds: 1 });
  const started = Date.now();
  const res = await run(name);
  expect(res.errorType).toBe('Sandbox.Timedout');
  expect(Date.now() - started).toBeLessThan(5000);
  expect((await run(victim)).result).toBe('alive');
});

test('the process cap refuses new processes when a function forks past it', async () => {
  const name = uniqueName('counter');
  await deploy(
    name,
    probe(`
    const kids = []; let refused = null;
    for (let i = 0; i < 2000 && !refused; i++) {
      const c = cp.spawn('/bin/sleep', ['30'], { stdio: 'ignore' });
      const err = await new Promise((r) => { c.once('spawn', () => r(null)); c.once('error', r); });
      if (err) refused = err.code; else kids.push(c);
    }
    for (const c of kids) c.kill('SIGKILL');
    return { started: kids.length, refused };`),
    { memoryMb: 1024, timeoutSeconds: 60 },
  );
  const { result } = await run(name) as { result: { started: number; refused: string } };
  expect(result.refused).toBe('EAGAIN');
  expect(result.started).toBeLessThan(1024);
}, 90_000);

test("a function cannot reach the host's loopback ports, with network (its own namespace) or without", async () => {
  const server = net.createServer((c) => c.end('hi from the host'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const code = probe(`
      return await new Promise((resolve) => {
        const s = require('net').connect(event.port, '127.0.0.1');
        let got = '';
        s.on('data', (d) => (got += d));
        s.on('end', () => resolve({ got }));
        s.on('error', (e) => resolve({ error: e.code }));
      });`);
    const online = uniqueName('online');
    await deploy(online, code);
    // Its 127.0.0.1 is its own namespace's; outbound to other hosts is test/integration/sandbox-network.test.ts's.
    expect((await run(online, { port })).result).toEqual({ error: 'ECONNREFUSED' });
    expect((await run(online, { port })).result).toEqual({ error: 'ECONNREFUSED' });
    const offline = uniqueName('offline');
    await deploy(offline, code, { networkDisabled: true });
    const res = await run(offline, { port });
    expect(res.errorType).toBeUndefined();
    expect(res.result).toEqual({ error: 'ECONNREFUSED' });
    // Warm reuse still works through the forwarded Runtime API.
    expect((await run(offline, { port })).result).toEqual({ error: 'ECONNREFUSED' });
  } finally {
    server.close();
  }
});
