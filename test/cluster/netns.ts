/**
 * Hosts for multi-host tests: Linux network namespaces joined by a bridge in the root namespace.
 * Each host has its own interfaces and addresses (10.200.N.1, .2, ... on a /24 no other interface
 * uses), its own port space and its own view of the network, so a link taken down cuts it off as
 * a pulled cable would. The test process stays in the root namespace and reaches the hosts over
 * the bridge (10.200.N.254), which is also each host's default gateway (it forwards nothing further).
 *
 * Programs enter a host with `nsenter --net`, not `ip netns exec`: the latter remounts /sys, which
 * hides /sys/fs/cgroup from agents that need it for their sandboxes.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** One simulated host. */
export interface Host {
  /** 1-based. */
  index: number;
  name: string;
  /** Network namespace name (ip netns list). */
  ns: string;
  ip: string;
  /** The bridge side of its cable (ip link set <veth> down cuts the host off). */
  veth: string;
}

/** Hosts on one bridge, and how to run programs on them and break their links. */
export interface TestNetwork {
  runId: string;
  bridge: string;
  /** The root namespace's address on the bridge, where the test process is reached from the hosts. */
  bridgeIp: string;
  hosts: Host[];
  /** [command, args] that run `command args` inside the host's network namespace. */
  wrap(host: Host, command: string, args: string[]): [string, string[]];
  /** Spawns a program on a host; teardown() kills it if it still runs. */
  spawn(host: Host, command: string, args: string[], options: SpawnOptions): ChildProcess;
  /** Takes the host's link down: nothing reaches it and it reaches nothing. */
  cut(host: Host): void;
  /** Brings the link back up. */
  restore(host: Host): void;
  /** Kills every program started on the hosts, deletes namespaces and the bridge. Runs once; safe on exit. */
  teardown(): void;
}

const NS_PREFIX = 'stratus-t';
const BRIDGE_ALIAS = 'stratus-test-pid-';

function ip(args: string[], allowFail = false): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout ?? '';
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Why network namespaces cannot be used here, or undefined when they can (tried for real). */
export function netnsUnavailable(): string | undefined {
  if (spawnSync('ip', ['-V']).status !== 0) return 'the ip command (iproute2) is not installed';
  if (spawnSync('nsenter', ['--version']).status !== 0) return 'nsenter (util-linux) is not installed';
  const probe = `${NS_PREFIX}${process.pid}-probe`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0) return `ip netns add fails here (${(add.stderr ?? '').trim() || 'no reason given'}): the multi-host suite needs root and network namespaces`;
  const veth = spawnSync('ip', ['link', 'add', `stq${process.pid.toString(36)}`, 'type', 'veth', 'peer', 'name', `stqp${process.pid.toString(36)}`], { encoding: 'utf8' });
  spawnSync('ip', ['link', 'del', `stq${process.pid.toString(36)}`]);
  spawnSync('ip', ['netns', 'del', probe]);
  if (veth.status !== 0) return `veth pairs cannot be made here (${(veth.stderr ?? '').trim()})`;
  return undefined;
}

/** Deletes namespaces and bridges left by test runs whose process is gone (a run killed before teardown). */
function removeStale(): void {
  for (const line of ip(['netns', 'list'], true).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${NS_PREFIX}(\\d+)-`).exec(name);
    if (!m || alive(Number(m[1]))) continue;
    for (const pid of ip(['netns', 'pids', name], true).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Gone.
      }
    }
    ip(['netns', 'del', name], true);
  }
  for (const line of ip(['-o', 'link', 'show', 'type', 'bridge'], true).split('\n')) {
    const m = new RegExp(`^\\d+: ([^:@]+).*alias ${BRIDGE_ALIAS}(\\d+)`).exec(line);
    if (m && !alive(Number(m[2]))) ip(['link', 'del', m[1] as string], true);
  }
}

/** A /24 under 10.200.0.0/16 that no interface or route here uses yet. */
function freeSubnet(): string {
  const inUse = ip(['-o', 'addr', 'show'], true) + ip(['route', 'show'], true);
  for (let attempt = 0; attempt < 64; attempt += 1) {
    const third = (process.pid + attempt * 7 + randomBytes(1)[0]!) % 250;
    const prefix = `10.200.${third}.`;
    if (!inUse.includes(prefix)) return prefix;
  }
  throw new Error('no free 10.200.x.0/24 subnet for the test hosts');
}

/** Creates `count` hosts on a new bridge; tears everything down again if any step fails. */
export function createNetwork(count: number): TestNetwork {
  removeStale();
  const runId = `${process.pid.toString(36)}${randomBytes(1).toString('hex')}`;
  const bridge = `stbr${runId}`;
  const prefix = freeSubnet();
  const bridgeIp = `${prefix}254`;
  const hosts: Host[] = [];
  const children = new Set<ChildProcess>();
  let tornDown = false;

  const teardown = (): void => {
    if (tornDown) return;
    tornDown = true;
    process.removeListener('exit', teardown);
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // Gone.
        }
      }
    }
    for (const h of hosts) {
      // Anything still running inside (an instance a killed agent left) goes with the namespace.
      for (const pid of ip(['netns', 'pids', h.ns], true).split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Gone.
        }
      }
      ip(['netns', 'del', h.ns], true);
      ip(['link', 'del', h.veth], true);
    }
    ip(['link', 'del', bridge], true);
  };
  process.on('exit', teardown);

  try {
    ip(['link', 'add', bridge, 'type', 'bridge']);
    ip(['link', 'set', 'dev', bridge, 'alias', `${BRIDGE_ALIAS}${process.pid}`]);
    ip(['addr', 'add', `${bridgeIp}/24`, 'dev', bridge]);
    ip(['link', 'set', bridge, 'up']);
    for (let i = 1; i <= count; i += 1) {
      const host: Host = { index: i, name: `host-${i}`, ns: `${NS_PREFIX}${process.pid}-${runId}-h${i}`, ip: `${prefix}${i}`, veth: `stv${runId}${i}` };
      const peer = `stp${runId}${i}`;
      ip(['netns', 'add', host.ns]);
      hosts.push(host);
      ip(['link', 'add', host.veth, 'type', 'veth', 'peer', 'name', peer]);
      ip(['link', 'set', peer, 'netns', host.ns]);
      ip(['-n', host.ns, 'link', 'set', peer, 'name', 'eth0']);
      ip(['-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
      ip(['-n', host.ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', host.ns, 'link', 'set', 'lo', 'up']);
      // A gateway, as real hosts have: pasta (each sandbox's network) takes its interface from the default route.
      ip(['-n', host.ns, 'route', 'add', 'default', 'via', bridgeIp]);
      ip(['link', 'set', host.veth, 'master', bridge]);
      ip(['link', 'set', host.veth, 'up']);
    }
  } catch (err) {
    teardown();
    throw err;
  }

  const wrap = (host: Host, command: string, args: string[]): [string, string[]] => ['nsenter', [`--net=/run/netns/${host.ns}`, '--', command, ...args]];
  return {
    runId,
    bridge,
    bridgeIp,
    hosts,
    wrap,
    spawn: (host, command, args, options) => {
      const [cmd, a] = wrap(host, command, args);
      const child = spawn(cmd, a, options);
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    cut: (host) => void ip(['link', 'set', host.veth, 'down']),
    restore: (host) => void ip(['link', 'set', host.veth, 'up']),
    teardown,
  };
}
