/**
 * A sandbox's own network (node-agent/sandbox/sandbox-network.ts), with real bwrap, real pasta and
 * a real second host (a network namespace on a bridge): from inside, a script tries the host's
 * loopback ports, the host's other addresses, the metadata range, the forwarded Runtime API port,
 * an allowed host port, and a server on the other host. Only the last three may answer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { networkInterfaces } from 'node:os';
import { attachNetwork, networkUnavailable, type AttachedNetwork, type SandboxNetworkOptions } from '../../node-agent/sandbox/sandbox-network';
import { createNetwork, netnsUnavailable, type TestNetwork } from '../cluster/netns';

const SANDBOX_UID = 65534;

/** A TCP server that greets every connection with `name`. */
function greeter(name: string, host: string): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((socket) => socket.end(name));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve({ server, port: (server.address() as net.AddressInfo).port }));
  });
}

/** Connects to each target from inside; prints `{target: greeting | 'error: CODE'}` as JSON. */
const PROBE = `
const net = require('net');
const targets = JSON.parse(process.argv[1]);
const out = {};
let left = targets.length;
for (const t of targets) {
  const [host, port] = [t.slice(0, t.lastIndexOf(':')), Number(t.slice(t.lastIndexOf(':') + 1))];
  let data = '';
  const s = net.connect({ host, port, timeout: 1500 });
  const done = (v) => { if (t in out) return; out[t] = v; s.destroy(); if (--left === 0) console.log(JSON.stringify(out)); };
  s.on('data', (d) => (data += d));
  s.on('end', () => done(data));
  s.on('timeout', () => done('error: TIMEOUT'));
  s.on('error', (e) => done('error: ' + e.code));
}
`;

/** Starts `node -e PROBE targets` in a bwrap sandbox with its own network namespace, held until `release`. */
function sandboxed(targets: string[]): { child: ChildProcess; pid: Promise<number>; release(): void; output: Promise<string> } {
  const devices = ['null', 'zero', 'urandom'].flatMap((d) => ['--dev-bind', `/dev/${d}`, `/dev/${d}`]);
  const bwrap = ['bwrap', '--unshare-user', '--uid', '993', '--gid', '993', '--unshare-pid', '--unshare-net', '--ro-bind', '/', '/', ...devices, '--proc', '/proc', '--info-fd', '3', '--block-fd', '4', '--', process.execPath, '-e', PROBE, JSON.stringify(targets)];
  const asRoot = process.getuid?.() === 0;
  const command = asRoot ? ['setpriv', `--reuid=${SANDBOX_UID}`, `--regid=${SANDBOX_UID}`, '--clear-groups', '--', ...bwrap] : bwrap;
  const child = spawn(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
  const pid = new Promise<number>((resolve, reject) => {
    let info = '';
    child.stdio[3]?.on('data', (d: Buffer) => {
      info += d.toString('utf8');
      const m = /"child-pid":\s*(\d+)/.exec(info);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error('the sandbox exited before it reported its pid')));
  });
  // bwrap closes these when it execs the probe.
  for (const fd of [3, 4]) child.stdio[fd]?.on('error', () => undefined);
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  const output = new Promise<string>((resolve) => child.once('exit', () => resolve(stdout)));
  return { child, pid, release: () => (child.stdio[4] as NodeJS.WritableStream).end('go'), output };
}

function hostIpv4(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return undefined;
}

const why = process.getuid?.() === 0 ? netnsUnavailable() : 'these tests build a second host with ip netns, which needs root';

(why ? describe.skip : describe)('sandbox network (pasta)', () => {
  let network: TestNetwork;
  const servers: net.Server[] = [];
  let options: SandboxNetworkOptions;

  beforeAll(async () => {
    options = { pastaPath: '/usr/bin/pasta', uid: SANDBOX_UID, gid: SANDBOX_UID, allowedHostPorts: [], deniedCidrs: [], readyTimeoutMs: 5000, nsenterPath: 'nsenter', ipPath: 'ip', setprivPath: 'setpriv' };
    const unavailable = await networkUnavailable(options);
    if (unavailable) throw new Error(unavailable);
    network = createNetwork(1);
  });

  afterAll(() => {
    for (const s of servers) s.close();
    network?.teardown();
  });

  test('reaches its forwarded ports and the outside, never the host', async () => {
    const hidden = await greeter('host-loopback', '127.0.0.1');
    const runtimeApi = await greeter('runtime-api', '127.0.0.1');
    const allowed = await greeter('allowed', '127.0.0.1');
    const everywhere = await greeter('host-any', '0.0.0.0');
    servers.push(hidden.server, runtimeApi.server, allowed.server, everywhere.server);
    const other = network.hosts[0]!;
    // A server on the other host: the outside world, as a function would reach it.
    const remote = network.spawn(other, process.execPath, ['-e', `require('net').createServer((s) => s.end('remote')).listen(7071, '${other.ip}')`], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 400));
    const eth = hostIpv4();
    const targets = {
      hostLoopback: `127.0.0.1:${hidden.port}`,
      runtimeApi: '127.0.0.1:9001',
      allowed: `127.0.0.1:${allowed.port}`,
      hostOnBridge: `${network.bridgeIp}:${everywhere.port}`,
      hostOwnAddress: eth ? `${eth}:${everywhere.port}` : undefined,
      metadata: '169.254.169.254:80',
      remote: `${other.ip}:7071`,
    };
    const list = Object.values(targets).filter((t): t is string => t !== undefined);
    const box = sandboxed(list);
    let attached: AttachedNetwork | undefined;
    try {
      attached = await attachNetwork(await box.pid, [{ inside: 9001, host: runtimeApi.port }], { ...options, allowedHostPorts: [allowed.port] });
      box.release();
      const result = JSON.parse(await box.output) as Record<string, string>;
      expect(result[targets.runtimeApi]).toBe('runtime-api');
      expect(result[targets.allowed]).toBe('allowed');
      expect(result[targets.remote]).toBe('remote');
      expect(result[targets.hostLoopback]).toMatch(/^error: /);
      expect(result[targets.hostOnBridge]).toMatch(/^error: /);
      expect(result[targets.metadata]).toMatch(/^error: /);
      if (targets.hostOwnAddress) expect(result[targets.hostOwnAddress]).toMatch(/^error: /);
    } finally {
      attached?.close();
      box.child.kill('SIGKILL');
      remote.kill('SIGKILL');
    }
  }, 30_000);

  test('a sandbox that is gone fails the attach with a clear error', async () => {
    await expect(attachNetwork(2 ** 22 + 7, [], options)).rejects.toMatchObject({ code: 'ServiceUnavailable', message: expect.stringMatching(/could not connect the sandbox to the network/) });
  });
});
