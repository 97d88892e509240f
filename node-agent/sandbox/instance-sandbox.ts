import type { EphemeralDisk, EphemeralDisks } from './ephemeral-disk';
import { spawn, type ChildProcess, type IOType } from 'node:child_process';
import { existsSync, lstatSync, promises as fs, realpathSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { FunctionRecord } from '../../sdk/core/function-config';
import type { CgroupDriver, CgroupHandle, CgroupLimits } from './cgroups';
import { attachNetwork, type AttachedNetwork, type SandboxNetworkOptions } from './sandbox-network';
import { peerHeldBy } from './socket-peer';

/** A process launch: what to exec, with which environment, where. */
export interface LaunchPlan {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

/** The launched process of a sandbox; `ready` resolves once the sandbox let it run (its network attached). */
export interface SandboxProcess {
  child: ChildProcess;
  /** Rejects (the process killed) when the sandbox could not be completed. */
  ready: Promise<void>;
}

/** Where the runtime finds the Runtime API inside a sandbox with its own network, as on Lambda. */
export const SANDBOX_RUNTIME_API = '127.0.0.1:9001';

/** Where an instance sees its code, layers and runtime files. */
export interface InstancePaths {
  taskRoot: string;
  opt: string;
  runtimeDir: string;
}

/** What a sandbox is built around. */
export interface SandboxSpec {
  instanceId: string;
  record: FunctionRecord;
  codeDir: string;
  /** Unpacked layers, merged in order; undefined without layers. */
  layersDir: string | undefined;
  runtimesDir: string;
}

/**
 * How one instance is isolated and measured. The unsandboxed process driver implements it with
 * plain process calls; the bwrap driver with namespaces and cgroups.
 */
export interface InstanceSandbox {
  readonly paths: InstancePaths;
  /** Where the agent must also serve the Runtime API, for a sandbox without network. */
  readonly runtimeApiSocket?: string;
  /** Whether the kernel enforces the memory limit (else the agent watches the process). */
  readonly enforcesMemory: boolean;
  /**
   * AWS_LAMBDA_RUNTIME_API inside a sandbox with its own network: connections to it arrive through
   * {@link serveRuntimeApi}. Undefined when the sandbox shares the agent's network (the agent's
   * own loopback listener is the address then).
   */
  readonly runtimeApiAddress?: string;
  /** Whether the sandbox shares the agent's network namespace (and so its abstract Unix sockets). */
  readonly sharesAgentNetwork: boolean;
  /** Hands every Runtime API connection that reached the sandbox's endpoint, from this sandbox only, to `accept`. */
  serveRuntimeApi(accept: (socket: net.Socket) => void): void;
  /** Starts the runtime's launch inside the sandbox, with `stdio` for its first descriptors (0, 1, 2, ...). */
  spawn(plan: LaunchPlan, stdio: IOType[]): SandboxProcess;
  /** Peak memory of the instance in MB; `pid` is the launched process. */
  peakMemoryMb(pid: number): Promise<number>;
  /** Current memory in MB, for the agent's watch when the kernel does not enforce the limit. */
  currentMemoryMb(pid: number): Promise<number>;
  /** Whether the instance was killed for memory. */
  oomKilled(): Promise<boolean>;
  /** Kills every process of the instance. */
  killAll(pid: number): Promise<void>;
  /** Frees what the sandbox held, after the process is gone. */
  release(): Promise<void>;
}

/** Makes a sandbox for each new instance. */
export interface SandboxProvider {
  readonly kind: 'bwrap' | 'process';
  create(spec: SandboxSpec): Promise<InstanceSandbox>;
  /** A sandbox for a pre-started runtime with no function yet; absent where the sandbox's paths depend on the function. */
  createStandby?(spec: StandbySpec): Promise<StandbySandbox>;
}

/** What a pre-started runtime's sandbox is built around, before any function is known. */
export interface StandbySpec {
  instanceId: string;
  /** An empty host folder of its own; /var/task and /opt are bound from folders made in it. */
  slotDir: string;
  runtimesDir: string;
  /** Memory booked while it waits (its cgroup's limit until assignment). */
  memoryMb: number;
  /** Size of its /tmp, fixed when it starts: only functions with this size may take it. */
  ephemeralStorageMb: number;
}

/** The sandbox of a pre-started runtime. */
export interface StandbySandbox extends InstanceSandbox {
  /**
   * Gives the sandbox to one function, once: its code appears at /var/task, its merged layers at
   * /opt, and its cgroup takes the function's memory, process and CPU limits.
   */
  assign(record: FunctionRecord, codeDir: string, layersDir: string | undefined): Promise<void>;
}

async function procMemoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  try {
    const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Math.ceil(Number(match[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** No isolation at all: instances are plain child processes. Opt-in only, for hosts without bubblewrap. */
export class ProcessSandboxProvider implements SandboxProvider {
  readonly kind = 'process' as const;

  async create(spec: SandboxSpec): Promise<InstanceSandbox> {
    return {
      paths: { taskRoot: spec.codeDir, opt: spec.layersDir ?? '/opt', runtimeDir: spec.runtimesDir },
      enforcesMemory: false,
      sharesAgentNetwork: true,
      serveRuntimeApi: () => undefined,
      spawn: (plan, stdio) => ({ child: spawn(plan.command, plan.args, { cwd: plan.cwd, env: plan.env, detached: true, stdio }), ready: Promise.resolve() }),
      peakMemoryMb: (pid) => procMemoryMb(pid, 'VmHWM'),
      currentMemoryMb: (pid) => procMemoryMb(pid, 'VmRSS'),
      oomKilled: async () => false,
      killAll: async (pid) => killGroup(pid),
      release: async () => undefined,
    };
  }
}

/** Options for {@link BwrapSandboxProvider}. */
export interface BwrapOptions {
  bwrapPath: string;
  /** Host uid/gid the sandbox runs as when the agent is root (default nobody). */
  hostUid: number;
  hostGid: number;
  /** uid/gid inside the sandbox (Lambda's sbx_user1051 is 993). */
  sandboxUid: number;
  sandboxGid: number;
  /** Most processes and threads per instance. */
  maxProcesses: number;
  cgroups: CgroupDriver;
  /** Binaries the runtimes exec (node, python3); folders outside /usr holding them are bound read-only. */
  binaries: string[];
  /** More host paths every sandbox sees read-only, at the sandbox path given (the Stratus SDK functions may require). */
  readOnlyMounts?: Array<{ host: string; sandbox: string }>;
  /** Node.js, to run the Runtime API forwarder in sandboxes without network. */
  nodeBinary: string;
  /** Folder for per-instance Runtime API sockets. */
  socketDir: string;
  /** Each sandbox with network gets its own network namespace, connected by pasta; undefined shares the host's (opt-out). */
  network: SandboxNetworkOptions | undefined;
  /**
   * Disks for /tmp (ephemeral-disk.ts): each instance's /tmp is its own ext4 disk of its ephemeral
   * storage, not charged to its memory. Unset: a tmpfs of that size, which is charged to memory.
   */
  ephemeralDisks?: Pick<EphemeralDisks, 'create'>;
}

/** Descriptors of bwrap's --info-fd (it reports the sandbox's PID) and --block-fd (it waits there before running the runtime). */
const INFO_FD = 5;
const BLOCK_FD = 6;
/** Device nodes a sandbox with its own network gets (bwrap's --dev would nest a user namespace pasta cannot join: sandbox-network.ts). */
const DEVICES = ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty'];

/** Host folders of the base system an instance sees read-only; merged-/usr symlinks are recreated as links. */
const SYSTEM_DIRS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/** The few files of /etc programs need; the rest of /etc (shadow, the agent's config) stays out of sight. */
const ETC_FILES = ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/ssl', '/etc/ca-certificates', '/etc/localtime', '/etc/alternatives', '/etc/ld.so.cache', '/etc/mime.types'];

/**
 * Sandboxes with bubblewrap and cgroups: own user, PID, IPC and UTS namespaces, an unprivileged
 * uid, code at /var/task and layers at /opt read-only, a size-capped private /tmp, only the base
 * system visible; memory, processes and CPU share capped by the instance's cgroup. The launch
 * joins the cgroup as root, then drops to the unprivileged host user before bwrap runs.
 */
export class BwrapSandboxProvider implements SandboxProvider {
  readonly kind = 'bwrap' as const;
  private readonly extraBinds: string[];
  private readonly mounts: Array<{ host: string; sandbox: string }>;

  constructor(private readonly options: BwrapOptions) {
    const prefixes = new Set<string>();
    for (const binary of options.binaries) {
      try {
        const prefix = path.dirname(path.dirname(realpathSync(binary)));
        if (!prefix.startsWith('/usr')) prefixes.add(prefix);
      } catch {
        // Not installed here: the runtime that needs it reports that when it starts.
      }
    }
    this.extraBinds = [...prefixes];
    this.mounts = options.readOnlyMounts ?? [];
  }

  async create(spec: SandboxSpec): Promise<InstanceSandbox> {
    const { record } = spec;
    const [cgroup, disk] = await this.cgroupAndDisk(`i-${spec.instanceId}`, spec.instanceId, record.config.memoryMb, record.config.ephemeralStorageMb);
    const o = this.options;
    const offline = record.config.networkDisabled;
    const socket = offline ? path.join(o.socketDir, `${spec.instanceId}.sock`) : undefined;
    if (socket) await fs.mkdir(o.socketDir, { recursive: true, mode: 0o711 });
    const ownNetwork = !offline && this.options.network !== undefined;
    const args = this.bwrapArgs({ ephemeralStorageMb: record.config.ephemeralStorageMb, tmpDisk: disk?.path, codeDir: spec.codeDir, layersDir: spec.layersDir, runtimesDir: spec.runtimesDir, socket, ownNetwork });
    return this.sandbox(cgroup, args, socket, ownNetwork ? await RuntimeApiEndpoint.open() : undefined, async () => disk?.release());
  }

  /** The instance's cgroup and, when /tmp is on disk, its disk: made side by side (both take a few ms). */
  private async cgroupAndDisk(cgroupName: string, instanceId: string, memoryMb: number, storageMb: number): Promise<[CgroupHandle, EphemeralDisk | undefined]> {
    const [cgroup, disk] = await Promise.allSettled([
      this.options.cgroups.create(cgroupName, limitsFor(memoryMb, this.options.maxProcesses)),
      this.options.ephemeralDisks ? this.options.ephemeralDisks.create(instanceId, storageMb) : Promise.resolve(undefined),
    ]);
    if (cgroup.status === 'rejected' || disk.status === 'rejected') {
      // Whichever was made is not left behind.
      if (cgroup.status === 'fulfilled') await cgroup.value.destroy().catch(() => undefined);
      if (disk.status === 'fulfilled') await disk.value?.release();
      throw cgroup.status === 'rejected' ? cgroup.reason : (disk as PromiseRejectedResult).reason;
    }
    return [cgroup.value, disk.value];
  }

  /**
   * A sandbox for a pre-started runtime: isolated exactly as {@link create}'s, but its /var/task and
   * /opt are bound from empty per-sandbox host folders that {@link StandbySandbox.assign} fills with one
   * function's code and layers (hard links, so the files are the code cache's own and read-only), and
   * its cgroup starts with the pool's booking and takes the function's limits at assignment.
   */
  async createStandby(spec: StandbySpec): Promise<StandbySandbox> {
    const taskDir = path.join(spec.slotDir, 'task');
    const optDir = path.join(spec.slotDir, 'opt');
    await fs.mkdir(spec.slotDir, { recursive: true, mode: 0o711 });
    await fs.mkdir(taskDir, { mode: 0o755 });
    await fs.mkdir(optDir, { mode: 0o755 });
    // Its /tmp disk is made now, while it waits: a function that takes it pays nothing for it.
    const [cgroup, disk] = await this.cgroupAndDisk(`s-${spec.instanceId}`, spec.instanceId, spec.memoryMb, spec.ephemeralStorageMb);
    const ownNetwork = this.options.network !== undefined;
    const args = this.bwrapArgs({ ephemeralStorageMb: spec.ephemeralStorageMb, tmpDisk: disk?.path, codeDir: taskDir, layersDir: optDir, runtimesDir: spec.runtimesDir, socket: undefined, ownNetwork });
    let assigned = false;
    const base = this.sandbox(cgroup, args, undefined, ownNetwork ? await RuntimeApiEndpoint.open() : undefined, async () => {
      await disk?.release();
      await fs.rm(spec.slotDir, { recursive: true, force: true });
    });
    return {
      ...base,
      assign: async (record, codeDir, layersDir) => {
        // One function per sandbox, ever: what a previous function left could otherwise leak.
        if (assigned) throw new Error(`pre-started sandbox ${spec.instanceId} was already assigned`);
        assigned = true;
        await Promise.all([
          linkTree(codeDir, taskDir),
          layersDir ? linkTree(layersDir, optDir) : Promise.resolve(),
          cgroup.setLimits(limitsFor(record.config.memoryMb, this.options.maxProcesses)),
        ]);
      },
    };
  }

  /** bwrap's arguments for one instance; `socket` when the instance has no network. */
  private bwrapArgs(b: { ephemeralStorageMb: number; tmpDisk: string | undefined; codeDir: string; layersDir: string | undefined; runtimesDir: string; socket: string | undefined; ownNetwork: boolean }): string[] {
    const o = this.options;
    const args: string[] = [
      '--unshare-user',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-cgroup-try',
      '--uid', String(o.sandboxUid),
      '--gid', String(o.sandboxGid),
      '--hostname', 'stratus',
      '--die-with-parent',
      '--ro-bind', '/usr', '/usr',
    ];
    for (const dir of SYSTEM_DIRS) {
      if (!existsSync(dir)) continue;
      const stat = lstatSync(dir);
      if (stat.isSymbolicLink()) args.push('--symlink', path.relative('/', realpathSync(dir)), dir);
      else args.push('--ro-bind', dir, dir);
    }
    for (const file of ETC_FILES) args.push('--ro-bind-try', file, file);
    for (const prefix of this.extraBinds) args.push('--ro-bind', prefix, prefix);
    for (const m of this.mounts) args.push('--ro-bind', m.host, m.sandbox);
    args.push('--proc', '/proc');
    if (b.ownNetwork) {
      // Its own network namespace, which pasta joins before the runtime runs (held on --block-fd).
      args.push('--unshare-net', '--info-fd', String(INFO_FD), '--block-fd', String(BLOCK_FD), '--dir', '/dev');
      for (const device of DEVICES) if (existsSync(device)) args.push('--dev-bind', device, device);
      args.push('--symlink', '/proc/self/fd', '/dev/fd', '--symlink', '/proc/self/fd/0', '/dev/stdin', '--symlink', '/proc/self/fd/1', '/dev/stdout', '--symlink', '/proc/self/fd/2', '/dev/stderr', '--tmpfs', '/dev/shm');
    } else {
      args.push('--dev', '/dev');
    }
    // /tmp: the instance's own disk, or a tmpfs (whose pages count as the instance's memory).
    if (b.tmpDisk) args.push('--bind', b.tmpDisk, '/tmp');
    else args.push('--size', String(b.ephemeralStorageMb * 1024 * 1024), '--tmpfs', '/tmp');
    args.push(
      '--ro-bind', b.codeDir, '/var/task',
      '--ro-bind', b.runtimesDir, '/var/runtime',
    );
    if (b.socket) {
      // Its own network namespace with only loopback; the Runtime API comes in through a socket.
      args.push('--unshare-net', '--dir', '/var/run', '--bind', b.socket, '/var/run/runtime-api.sock');
    }
    if (b.layersDir) args.push('--ro-bind', b.layersDir, '/opt');
    else args.push('--dir', '/opt');
    // Everything but /tmp read-only, including the folders bwrap made for mount points (/etc, /var).
    args.push('--remount-ro', '/', '--chdir', '/var/task');
    return args;
  }

  private sandbox(cgroup: CgroupHandle, args: string[], socket: string | undefined, endpoint: RuntimeApiEndpoint | undefined, cleanup: () => Promise<void>): InstanceSandbox {
    const o = this.options;
    let network: AttachedNetwork | undefined;
    const joinAndDrop = [
      ...cgroup.procsFiles.map((f) => `echo $$ > '${f}'`),
      `exec setpriv --reuid=${o.hostUid} --regid=${o.hostGid} --clear-groups -- "$@"`,
    ].join(' && ');
    const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    return {
      paths: { taskRoot: '/var/task', opt: '/opt', runtimeDir: '/var/runtime' },
      runtimeApiSocket: socket,
      runtimeApiAddress: endpoint ? SANDBOX_RUNTIME_API : undefined,
      sharesAgentNetwork: endpoint === undefined && socket === undefined,
      enforcesMemory: true,
      serveRuntimeApi: (accept) => endpoint?.serve(accept),
      spawn: (plan, stdio) => {
        const command = socket ? [o.nodeBinary, '/var/runtime/forwarder.js', '/var/run/runtime-api.sock', plan.command, ...plan.args] : [plan.command, ...plan.args];
        const inner = [o.bwrapPath, ...args, '--', ...command];
        // As root: join the cgroup, then become the unprivileged host user. Otherwise we are unprivileged already.
        const launch = asRoot
          ? ['-c', joinAndDrop, 'stratus-sandbox', ...inner]
          : ['-c', `${cgroup.procsFiles.map((f) => `echo $$ > '${f}'`).join(' && ')} && exec "$@"`, 'stratus-sandbox', ...inner];
        if (!endpoint || !o.network) return { child: spawn('/bin/sh', launch, { cwd: '/', env: plan.env, detached: true, stdio }), ready: Promise.resolve() };
        const all: IOType[] = [...stdio];
        while (all.length < INFO_FD) all.push('ignore');
        all[INFO_FD] = 'pipe';
        all[BLOCK_FD] = 'pipe';
        const child = spawn('/bin/sh', launch, { cwd: '/', env: plan.env, detached: true, stdio: all });
        const netOptions = o.network;
        const ready = sandboxPid(child).then(async (pid) => {
          network = await attachNetwork(pid, [{ inside: 9001, host: endpoint.port }], netOptions);
          endpoint.allowPeersOf(network.pastaPid);
          const release = (child.stdio as unknown as Array<Writable | null>)[BLOCK_FD];
          release?.on('error', () => undefined);
          release?.end('go');
        });
        ready.catch(() => killGroup(child.pid ?? 0));
        return { child, ready };
      },
      peakMemoryMb: async () => Math.ceil((await cgroup.peakMemoryBytes()) / 1024 / 1024),
      currentMemoryMb: async () => 0,
      oomKilled: () => cgroup.oomKilled(),
      killAll: async (pid) => {
        killGroup(pid);
        await cgroup.killAll();
      },
      release: async () => {
        network?.close();
        endpoint?.close();
        await cgroup.destroy();
        if (socket) await fs.rm(socket, { force: true });
        await cleanup();
      },
    };
  }
}

/** The sandbox's PID in the host's namespace, from bwrap's --info-fd. */
function sandboxPid(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const info = (child.stdio as unknown as Array<Readable | null>)[INFO_FD];
    if (!info) return reject(new Error('the sandbox has no info descriptor'));
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const match = /"child-pid":\s*(\d+)/.exec(text);
      if (!match) return;
      info.removeListener('data', onData);
      child.removeListener('exit', onExit);
      resolve(Number(match[1]));
    };
    const onExit = (): void => reject(new Error(`bwrap exited before it made the sandbox: ${text.trim() || 'no reason given'}`));
    info.on('data', onData);
    info.on('error', () => undefined);
    child.once('exit', onExit);
  });
}

/**
 * The host side of a sandbox's Runtime API: a loopback port pasta forwards the sandbox's
 * 127.0.0.1:9001 to. Only connections held by that sandbox's pasta are served (defence in depth:
 * nothing else can route to the port, and if something did, it is refused).
 */
class RuntimeApiEndpoint {
  private accept: ((socket: net.Socket) => void) | undefined;
  private pastaPid: number | undefined;
  private readonly early: net.Socket[] = [];

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {
    server.on('connection', (socket) => this.onConnection(socket));
  }

  static open(): Promise<RuntimeApiEndpoint> {
    const server = net.createServer({ noDelay: true });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(new RuntimeApiEndpoint(server, (server.address() as net.AddressInfo).port)));
    });
  }

  allowPeersOf(pastaPid: number): void {
    this.pastaPid = pastaPid;
  }

  serve(accept: (socket: net.Socket) => void): void {
    this.accept = accept;
    for (const socket of this.early.splice(0)) accept(socket);
  }

  close(): void {
    for (const socket of this.early.splice(0)) socket.destroy();
    this.server.close();
  }

  private onConnection(socket: net.Socket): void {
    // Bytes that arrive during the check wait in the socket: nothing reads it before accept().
    const pid = this.pastaPid;
    const check = pid === undefined ? Promise.resolve(false) : peerHeldBy(socket, pid);
    check.then(
      (ok) => {
        if (!ok || socket.destroyed) return socket.destroy();
        if (this.accept) this.accept(socket);
        else this.early.push(socket);
      },
      () => socket.destroy(),
    );
  }
}

/** A cgroup's limits for an instance of `memoryMb`. */
function limitsFor(memoryMb: number, pids: number): CgroupLimits {
  // Lambda gives one vCPU at 1,769 MB; shares follow memory the same way.
  return { memoryBytes: memoryMb * 1024 * 1024, pids, cpuShares: (1024 * memoryMb) / 1769 };
}

/**
 * Mirrors `from` into the existing empty folder `to` with hard links (same filesystem; copies
 * where linking is refused), keeping modes and symbolic links as they are.
 */
async function linkTree(from: string, to: string): Promise<void> {
  const entries = await fs.readdir(from, { withFileTypes: true });
  await Promise.all(
    entries.map(async (entry) => {
      const src = path.join(from, entry.name);
      const dst = path.join(to, entry.name);
      if (entry.isDirectory()) {
        const st = await fs.stat(src);
        await fs.mkdir(dst, { mode: st.mode & 0o7777 });
        await fs.chmod(dst, st.mode & 0o7777);
        await linkTree(src, dst);
      } else if (entry.isSymbolicLink()) {
        await fs.symlink(await fs.readlink(src), dst);
      } else {
        await fs.link(src, dst).catch(async (err: NodeJS.ErrnoException) => {
          if (err.code !== 'EXDEV' && err.code !== 'EPERM') throw err;
          await fs.copyFile(src, dst);
          await fs.chmod(dst, (await fs.stat(src)).mode & 0o7777);
        });
      }
    }),
  );
}
