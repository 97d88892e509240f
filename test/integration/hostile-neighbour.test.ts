import { networkInterfaces } from 'node:os';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import type { StratusClient } from '../../sdk/client/stratus-client';

/**
 * One function attacks its neighbours as a hostile tenant would, on a cluster with default
 * settings: it looks for other instances' Runtime APIs (every listening TCP port it can see, and
 * Unix sockets, abstract and on disk), and tries the agent's, the router's and NATS's ports on the
 * host's loopback and on the host's own address, while Node.js, Python and custom-runtime victims
 * are idle and while they are mid-invocation. Every attempt must fail and every victim answer its
 * own caller with its own result.
 */
let cluster: TestCluster;
let client: StratusClient;

/** Probes from inside: every attempt's outcome, keyed by what it tried. */
const ATTACKER = `
const net = require('net');
const fs = require('fs');
const tryConnect = (opts) => new Promise((resolve) => {
  // Short: with no isolation every port on the host answers, and the report must list them before the function's timeout.
  const s = net.connect({ ...opts, timeout: 300 });
  let got = '';
  s.on('connect', () => s.write('GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n'));
  s.on('data', (d) => { got += d; if (got.length > 0) { s.destroy(); resolve('answered: ' + got.slice(0, 60)); } });
  s.on('timeout', () => { s.destroy(); resolve(got ? 'answered: ' + got : 'connected, no answer'); });
  s.on('error', (e) => resolve('error: ' + e.code));
  s.on('close', () => resolve(got ? 'answered: ' + got.slice(0, 60) : 'closed'));
});
const listeningPorts = () => {
  const ports = new Set();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''; try { text = fs.readFileSync(f, 'utf8'); } catch {}
    for (const line of text.split('\\n').slice(1)) {
      const p = line.trim().split(/\\s+/);
      if (p[3] === '0A') ports.add(parseInt(p[1].split(':')[1], 16));
    }
  }
  return [...ports];
};
const unixSockets = () => {
  let text = ''; try { text = fs.readFileSync('/proc/net/unix', 'utf8'); } catch {}
  return text.split('\\n').slice(1).map((l) => l.trim().split(/\\s+/)[7]).filter(Boolean);
};
exports.handler = async (event) => {
  const attempts = {};
  // Every port it can see listening, but its own Runtime API (9001), which is not a neighbour's.
  for (const port of listeningPorts().filter((p) => p !== 9001)) attempts['seen-port:' + port] = await tryConnect({ host: '127.0.0.1', port });
  for (const name of unixSockets()) {
    const path = name.startsWith('@') ? '\\0' + name.slice(1) : name;
    attempts['unix:' + name] = await tryConnect({ path });
  }
  for (const [what, target] of Object.entries(event.targets)) attempts[what] = await tryConnect(target);
  // The agent's socket folder and data directory, where another instance's socket would be.
  for (const dir of [event.dataDir, event.dataDir + '/sockets']) {
    try { attempts['dir:' + dir] = 'listed: ' + fs.readdirSync(dir).join(','); } catch (e) { attempts['dir:' + dir] = 'error: ' + e.code; }
  }
  return attempts;
};`;

const NODE_VICTIM = `exports.handler = async (event) => { await new Promise((r) => setTimeout(r, event.holdMs)); return { me: 'node', secret: event.secret }; };`;
const PYTHON_VICTIM = `import time\ndef handler(event, context):\n    time.sleep(event['holdMs'] / 1000)\n    return {'me': 'python', 'secret': event['secret']}\n`;
const SHELL_VICTIM = `#!/bin/sh
set -eu
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -LD "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  sleep 1
  curl -sS -X POST "$API/invocation/$REQUEST_ID/response" -d "{\\"me\\":\\"provided\\",\\"event\\":$EVENT}" >/dev/null
  rm -f "$HEADERS"
done
`;

function hostIpv4(): string {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

const victims = { node: uniqueName('vnode'), python: uniqueName('vpy'), provided: uniqueName('vsh') };
const attacker = uniqueName('attacker');

beforeAll(async () => {
  cluster = await startCluster({ agents: 1 });
  client = cluster.client();
  await client.deploy({ name: victims.node, source: functionDir({ 'index.js': NODE_VICTIM }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
  await client.deploy({ name: victims.python, source: functionDir({ 'app.py': PYTHON_VICTIM }), settings: { runtime: 'python', handler: 'app.handler' } });
  await client.deploy({ name: victims.provided, source: functionDir({ bootstrap: SHELL_VICTIM }), settings: { runtime: 'provided', handler: 'x.y' } });
  await client.deploy({ name: attacker, source: functionDir({ 'index.js': ATTACKER }), settings: { runtime: 'nodejs', handler: 'index.handler', timeoutSeconds: 60 } });
}, 60_000);
afterAll(async () => cluster?.stop());

async function victim(kind: keyof typeof victims, secret: string, holdMs: number): Promise<unknown> {
  const res = await client.invoke(victims[kind], JSON.stringify({ secret, holdMs }));
  expect(res.functionError).toBeUndefined();
  return JSON.parse(res.payload.toString());
}

async function attack(): Promise<Record<string, string>> {
  const agent = cluster.agents[0]!;
  const router = cluster.routers[0]!;
  const natsPort = Number(new URL(cluster.nats.url).port);
  const host = hostIpv4();
  const targets: Record<string, { host: string; port: number }> = {};
  for (const [what, port] of Object.entries({ agentGrpc: agent.grpcPort, routerGrpc: router.grpcPort, routerHttp: router.httpPort, nats: natsPort })) {
    targets[`${what}@loopback`] = { host: '127.0.0.1', port };
    targets[`${what}@host`] = { host, port };
  }
  const res = await client.invoke(attacker, JSON.stringify({ targets, dataDir: agent.env.STRATUS_DATA_DIR }));
  expect(res.functionError).toBeUndefined();
  return JSON.parse(res.payload.toString()) as Record<string, string>;
}

function expectAllRefused(attempts: Record<string, string>): void {
  const reached = Object.entries(attempts).filter(([, outcome]) => outcome.startsWith('answered') || outcome.startsWith('listed') || outcome === 'connected, no answer');
  expect(reached).toEqual([]);
  // It did try: the targets it was given are always there.
  expect(Object.keys(attempts).filter((k) => k.includes('@')).length).toBe(8);
}

test('while the victims are idle, nothing of theirs, the agent, the router or NATS is reachable', async () => {
  // Warm victims: their instances (and Runtime APIs) exist, idle.
  expect(await victim('node', 'n0', 0)).toEqual({ me: 'node', secret: 'n0' });
  expect(await victim('python', 'p0', 0)).toEqual({ me: 'python', secret: 'p0' });
  expect(await victim('provided', 'c0', 0)).toMatchObject({ me: 'provided', event: { secret: 'c0' } });
  expectAllRefused(await attack());
}, 90_000);

test('while the victims are mid-invocation, every attack fails and each victim answers its own caller', async () => {
  const running = [victim('node', 'n1', 2500), victim('python', 'p1', 2500), victim('provided', 'c1', 0)];
  await new Promise((r) => setTimeout(r, 300));
  const attempts = await attack();
  const [node, python, provided] = await Promise.all(running);
  expectAllRefused(attempts);
  expect(node).toEqual({ me: 'node', secret: 'n1' });
  expect(python).toEqual({ me: 'python', secret: 'p1' });
  expect(provided).toMatchObject({ me: 'provided', event: { secret: 'c1' } });
}, 90_000);
