import { existsSync, lstatSync, promises as fs, realpathSync } from 'node:fs';
import * as path from 'node:path';
import type { FunctionRecord } from '../../sdk/core/function-config';
import type { CgroupDriver, CgroupHandle, CgroupLimits } from './cgroups';

/** A process launch: what to exec, with which environment, where. */
export interface LaunchPlan {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

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
  /** Turns the runtime's launch into one that starts inside the sandbox. */
  wrap(plan: LaunchPlan): LaunchPlan;
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
      wrap: (plan) => plan,
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
  /** Node.js, to run the Runtime API forwarder in sandboxes without network. */
  nodeBinary: string;
  /** Folder for per-instance Runtime API sockets. */
  socketDir: string;
}

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
  }

  async create(spec: SandboxSpec): Promise<InstanceSandbox> {
    const { record } = spec;
    const cgroup: CgroupHandle = await this.options.cgroups.create(`i-${spec.instanceId}`, limitsFor(record.config.memoryMb, this.options.maxProcesses));
    const o = this.options;
    const offline = record.config.networkDisabled;
    const socket = offline ? path.join(o.socketDir, `${spec.instanceId}.sock`) : undefined;
    if (socket) await fs.mkdir(o.socketDir, { recursive: true, mode: 0o711 });
    const args = this.bwrapArgs({ ephemeralStorageMb: record.config.ephemeralStorageMb, codeDir: spec.codeDir, layersDir: spec.layersDir, runtimesDir: spec.runtimesDir, socket });
    return this.sandbox(cgroup, args, socket, async () => undefined);
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
    const cgroup: CgroupHandle = await this.options.cgroups.create(`s-${spec.instanceId}`, limitsFor(spec.memoryMb, this.options.maxProcesses));
    const args = this.bwrapArgs({ ephemeralStorageMb: spec.ephemeralStorageMb, codeDir: taskDir, layersDir: optDir, runtimesDir: spec.runtimesDir, socket: undefined });
    let assigned = false;
    const base = this.sandbox(cgroup, args, undefined, () => fs.rm(spec.slotDir, { recursive: true, force: true }));
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
  private bwrapArgs(b: { ephemeralStorageMb: number; codeDir: string; layersDir: string | undefined; runtimesDir: string; socket: string | undefined }): string[] {
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
    args.push(
      '--proc', '/proc',
      '--dev', '/dev',
      '--size', String(b.ephemeralStorageMb * 1024 * 1024),
      '--tmpfs', '/tmp',
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

  private sandbox(cgroup: CgroupHandle, args: string[], socket: string | undefined, cleanup: () => Promise<void>): InstanceSandbox {
    const o = this.options;
    const joinAndDrop = [
      ...cgroup.procsFiles.map((f) => `echo $$ > '${f}'`),
      `exec setpriv --reuid=${o.hostUid} --regid=${o.hostGid} --clear-groups -- "$@"`,
    ].join(' && ');
    const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    return {
      paths: { taskRoot: '/var/task', opt: '/opt', runtimeDir: '/var/runtime' },
      runtimeApiSocket: socket,
      enforcesMemory: true,
      wrap: (plan) => {
        const command = socket ? [o.nodeBinary, '/var/runtime/forwarder.js', '/var/run/runtime-api.sock', plan.command, ...plan.args] : [plan.command, ...plan.args];
        const inner = [o.bwrapPath, ...args, '--', ...command];
        // As root: join the cgroup, then become the unprivileged host user. Otherwise we are unprivileged already.
        return asRoot
          ? { command: '/bin/sh', args: ['-c', joinAndDrop, 'stratus-sandbox', ...inner], env: plan.env, cwd: '/' }
          : { command: '/bin/sh', args: ['-c', `${cgroup.procsFiles.map((f) => `echo $$ > '${f}'`).join(' && ')} && exec "$@"`, 'stratus-sandbox', ...inner], env: plan.env, cwd: '/' };
      },
      peakMemoryMb: async () => Math.ceil((await cgroup.peakMemoryBytes()) / 1024 / 1024),
      currentMemoryMb: async () => 0,
      oomKilled: () => cgroup.oomKilled(),
      killAll: async (pid) => {
        killGroup(pid);
        await cgroup.killAll();
      },
      release: async () => {
        await cgroup.destroy();
        if (socket) await fs.rm(socket, { force: true });
        await cleanup();
      },
    };
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
