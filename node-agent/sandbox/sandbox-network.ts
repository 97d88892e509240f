import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants, promises as fs } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { networkInterfaces } from 'node:os';
import { StratusError } from '../../sdk/core/errors';

/**
 * Outbound network for one sandbox, cut off from the host: the sandbox has its own network
 * namespace (bwrap --unshare-net), and pasta (Debian's `passt`) connects it to the outside world
 * as a user-mode stack. Why pasta: it needs no root, no veth, no host firewall rules and no
 * ip_forward (the host's routing is left alone), its loopback splice path is cheap, and it can
 * forward exactly the namespace ports we name to the host's loopback — the Runtime API and the
 * operator's allowed destinations — and nothing else.
 *
 * What a function can reach then:
 * - its namespace's own loopback (127.0.0.1 is not the host's);
 * - the host's loopback only on the ports forwarded here (-T), nowhere else (-T none otherwise;
 *   --no-map-gw: the gateway address is the real gateway, not a way back to the host);
 * - the outside network through pasta's sockets, except every address of the host itself and the
 *   denied ranges, which get `prohibit` routes inside the namespace (connect fails at once with
 *   EACCES/EHOSTUNREACH). The function cannot change them: bwrap leaves it no capability.
 *
 * Learned the hard way (pasta of Debian 12, 2023-03):
 * - pasta must run as the owner of the sandbox's user namespace (the sandbox's host uid) and join
 *   it with the namespace's PID; joining only the network namespace (--netns-only) needs
 *   CAP_SYS_ADMIN in the host's user namespace, which a dropped-privilege pasta lacks.
 * - bwrap's `--dev /dev` mounts a devpts, for which unprivileged bwrap nests a second user
 *   namespace; the network namespace then belongs to the outer one, which no process stays in, and
 *   pasta's setns fails with EPERM. Sandboxes with network bind device nodes one by one instead.
 * - pasta opens /dev/net/tun as that uid: the device must be world-usable (udev's default 0666).
 * - Without -f, pasta moves itself to a detached PID namespace, which fails here; with -f it stays
 *   our child. It does not exit when its namespace's processes are gone, so it is started with a
 *   parent-death signal (setpriv --pdeathsig) and killed when its sandbox is released.
 */
export interface SandboxNetworkOptions {
  pastaPath: string;
  /** Host uid and gid pasta runs as: the owner of the sandbox's user namespace. */
  uid: number;
  gid: number;
  /** Host loopback ports functions may reach at 127.0.0.1:<port> inside (an operator's named destinations). */
  allowedHostPorts: number[];
  /** Destinations no function may reach, besides the host's own addresses (CIDRs, IPv4 or IPv6). */
  deniedCidrs: string[];
  /** How long pasta may take to configure the namespace. */
  readyTimeoutMs: number;
  /** Runs `ip -batch -` inside the target's network namespace (nsenter); the agent's ip and nsenter. */
  nsenterPath: string;
  ipPath: string;
  /** util-linux's setpriv, which starts pasta with a parent-death signal. */
  setprivPath: string;
}

/** Ranges every sandbox is denied by default: link-local (cloud metadata endpoints hand out host credentials). */
export const DEFAULT_DENIED_CIDRS = ['169.254.0.0/16', 'fd00:ec2::254/128'];

/** A port of the namespace's loopback forwarded to one of the host's loopback. */
export interface PortForward {
  /** Port inside the sandbox (127.0.0.1). */
  inside: number;
  /** Port on the host's 127.0.0.1. */
  host: number;
}

/** A sandbox's attached network; close() stops pasta (the sandbox's release calls it). */
export interface AttachedNetwork {
  readonly pastaPid: number;
  close(): void;
}

/** Every address of this host's interfaces, as /32 and /128 ranges: none of them is reachable from a sandbox. */
export function hostAddressRanges(): string[] {
  const ranges: string[] = [];
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      // Link-local IPv6 needs its interface to mean anything; the namespace's own fe80 routes stay.
      if (a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:')) continue;
      ranges.push(a.family === 'IPv4' ? `${a.address}/32` : `${a.address}/128`);
    }
  }
  return ranges;
}

/** `ip -batch` lines that make every range in `ranges` unreachable from the namespace. */
export function prohibitRoutes(ranges: string[]): string[] {
  const lines: string[] = [];
  for (const range of new Set(ranges)) {
    const [address] = range.split('/');
    if (!address || (!isIPv4(address) && !isIPv6(address))) throw new StratusError('InvalidRequest', `'${range}' is not an IPv4 or IPv6 range: write denied sandbox destinations as CIDRs (10.0.0.0/8, fd00::/8)`);
    // Loopback is the namespace's own; a route over it would change nothing.
    if (address.startsWith('127.') || address === '::1') continue;
    lines.push(`route add prohibit ${range}`);
  }
  return lines;
}

/** pasta's arguments for the namespace of `pid`, forwarding `forwards` plus the allowed host ports. */
export function pastaArgs(pid: number, forwards: PortForward[], allowedHostPorts: number[]): string[] {
  const tcpNs = [...forwards.map((f) => `${f.inside}:${f.host}`), ...allowedHostPorts.map(String)];
  return [
    '--config-net',
    '--quiet',
    '--foreground',
    // Nothing from the host into the sandbox; from the sandbox to the host only what is named.
    '--tcp-ports', 'none',
    '--udp-ports', 'none',
    '--tcp-ns', tcpNs.length > 0 ? tcpNs.join(',') : 'none',
    '--udp-ns', 'none',
    '--no-map-gw',
    String(pid),
  ];
}

/** Why sandboxes cannot have isolated network here, or undefined when they can. */
export async function networkUnavailable(o: Pick<SandboxNetworkOptions, 'pastaPath' | 'uid'>): Promise<string | undefined> {
  try {
    await fs.access(o.pastaPath, fsConstants.X_OK);
  } catch {
    return `pasta is not installed at ${o.pastaPath}: on Debian or Ubuntu run \`sudo apt-get install passt\``;
  }
  try {
    const st = await fs.stat('/dev/net/tun');
    const usable = (st.mode & 0o006) === 0o006 || (st.uid === o.uid && (st.mode & 0o600) === 0o600);
    if (!usable) return `/dev/net/tun is not usable by uid ${o.uid} (mode ${(st.mode & 0o777).toString(8)}): run \`chmod 0666 /dev/net/tun\` (udev's default)`;
  } catch {
    return '/dev/net/tun is missing: load the tun module (`modprobe tun`)';
  }
  return undefined;
}

/** Whether `pid`'s namespace has its default routes (IPv4, and IPv6 when the host routes IPv6). */
async function routesReady(pid: number, wantV6: boolean): Promise<boolean> {
  const v4 = await fs.readFile(`/proc/${pid}/net/route`, 'utf8').catch(() => '');
  if (!/\n\S+\t00000000\t/.test(v4)) return false;
  if (!wantV6) return true;
  const v6 = await fs.readFile(`/proc/${pid}/net/ipv6_route`, 'utf8').catch(() => '');
  return /^0{32} 00 /m.test(v6);
}

/**
 * Whether bwrap has brought up the namespace's loopback (it does so itself, after it reported the
 * PID): netlink changes made while it still works on it make its own fail ("loopback: Failed
 * RTM_NEWADDR"). Up means ::1 is there, or without IPv6 127.0.0.1 in the local table.
 */
async function loopbackUp(pid: number): Promise<boolean> {
  const v6 = await fs.readFile(`/proc/${pid}/net/if_inet6`, 'utf8').catch(() => undefined);
  if (v6 !== undefined) return /\slo\s*$/m.test(v6);
  const trie = await fs.readFile(`/proc/${pid}/net/fib_trie`, 'utf8').catch(() => '');
  return trie.includes('127.0.0.1');
}

/** Whether every port in `ports` has a listening socket in `pid`'s namespace (pasta's forwards, bound once it configured it). */
async function listening(pid: number, ports: number[]): Promise<boolean> {
  if (ports.length === 0) return true;
  const [v4, v6] = await Promise.all(['tcp', 'tcp6'].map((f) => fs.readFile(`/proc/${pid}/net/${f}`, 'utf8').catch(() => '')));
  const bound = new Set<number>();
  for (const line of `${v4}\n${v6}`.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // State 0A is LISTEN.
    if (fields[3] === '0A' && fields[1]) bound.add(parseInt(fields[1].split(':')[1] ?? '', 16));
  }
  return ports.every((p) => bound.has(p));
}

/** Whether the host has an IPv6 default route (on a real interface: unreachable defaults sit on lo). */
async function hostRoutesV6(): Promise<boolean> {
  const v6 = await fs.readFile('/proc/net/ipv6_route', 'utf8').catch(() => '');
  return v6.split('\n').some((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[0] === '0'.repeat(32) && fields[1] === '00' && fields[9] !== undefined && fields[9] !== 'lo';
  });
}

function run(command: string, args: string[], input: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'], timeout: timeoutMs });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.once('error', reject);
    // A target gone before its input was read shows as the exit status below.
    child.stdin.on('error', () => undefined);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? code}): ${stderr.trim()}`))));
    child.stdin.end(input);
  });
}

/**
 * Connects the network namespace of `pid` (a sandbox waiting on bwrap's --block-fd, so nothing of
 * the function runs yet) to the outside through pasta, with `forwards` from its loopback to the
 * host's, and makes the host's own addresses and the denied ranges unreachable from it. Resolves
 * once the namespace has its routes and pasta listens on the forwarded ports; rejects (and stops
 * pasta) when it cannot be set up in time.
 */
export async function attachNetwork(pid: number, forwards: PortForward[], o: SandboxNetworkOptions): Promise<AttachedNetwork> {
  const routes = prohibitRoutes([...hostAddressRanges(), ...DEFAULT_DENIED_CIDRS, ...o.deniedCidrs]);
  const wantV6 = await hostRoutesV6();
  const deadline = Date.now() + o.readyTimeoutMs;
  let pasta: ChildProcess | undefined;
  const close = (): void => {
    if (pasta && pasta.exitCode === null && pasta.signalCode === null) pasta.kill('SIGKILL');
  };
  try {
    await pollUntil(() => loopbackUp(pid), deadline, `its loopback did not come up within ${o.readyTimeoutMs} ms`);
    // setpriv --pdeathsig: pasta dies with the agent even when the agent is killed (it does not follow its namespace's end by itself).
    const started = spawn(o.setprivPath, ['--pdeathsig', 'KILL', '--', o.pastaPath, ...pastaArgs(pid, forwards, o.allowedHostPorts)], { uid: o.uid, gid: o.gid, stdio: ['ignore', 'ignore', 'pipe'] });
    pasta = started;
    let stderr = '';
    started.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    let failure: string | undefined;
    started.once('error', (err) => (failure = err.message));
    started.once('exit', (code, signal) => (failure = `pasta exited (${signal ?? code}): ${stderr.replace(/Failed to send \d+ bytes to syslog\n?/g, '').trim()}`));
    // Routes go in while pasta configures: a prohibit route needs no interface.
    // Root may enter any network namespace; otherwise we own the sandbox's user namespace and enter it first.
    const asRoot = process.getuid?.() === 0;
    const enter = [`--target=${pid}`, ...(asRoot ? [] : ['--user', '--preserve-credentials']), '--net', '--'];
    const routed = routes.length > 0 ? run(o.nsenterPath, [...enter, o.ipPath, '-batch', '-'], `${routes.join('\n')}\n`, o.readyTimeoutMs) : Promise.resolve();
    // Whichever fails first is reported; the other must not become an unhandled rejection.
    routed.catch(() => undefined);
    const forwarded = [...forwards.map((f) => f.inside), ...o.allowedHostPorts];
    await pollUntil(async () => (await routesReady(pid, wantV6)) && (await listening(pid, forwarded)), deadline, `pasta did not configure the sandbox's network within ${o.readyTimeoutMs} ms`, () => failure);
    await routed;
    return { pastaPid: started.pid ?? 0, close };
  } catch (err) {
    close();
    throw new StratusError('ServiceUnavailable', `could not connect the sandbox to the network: ${(err as Error).message}`);
  }
}

/** Checks `ready` every millisecond until it holds; throws `late` after `deadline`, or what `failed` says as soon as it says something. */
async function pollUntil(ready: () => Promise<boolean>, deadline: number, late: string, failed: () => string | undefined = () => undefined): Promise<void> {
  while (!(await ready())) {
    const failure = failed();
    if (failure !== undefined) throw new Error(failure);
    if (Date.now() > deadline) throw new Error(late);
    await new Promise((r) => setTimeout(r, 1));
  }
}
