import { existsSync, lstatSync, promises as fs, realpathSync } from 'node:fs';
import * as path from 'node:path';
import type { FunctionRecord } from '../../sdk/core/function-config';
import type { CgroupDriver, CgroupHandle } from './cgroups';

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
    const cgroup: CgroupHandle = await this.options.cgroups.create(`i-${spec.instanceId}`, {
      memoryBytes: record.config.memoryMb * 1024 * 1024,
      pids: this.options.maxProcesses,
      // Lambda gives one vCPU at 1,769 MB; shares follow memory the same way.
      cpuShares: (1024 * record.config.memoryMb) / 1769,
    });
    const o = this.options;
    const offline = record.config.networkDisabled;
    const socket = offline ? path.join(o.socketDir, `${spec.instanceId}.sock`) : undefined;
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
      '--size', String(record.config.ephemeralStorageMb * 1024 * 1024),
      '--tmpfs', '/tmp',
      '--ro-bind', spec.codeDir, '/var/task',
      '--ro-bind', spec.runtimesDir, '/var/runtime',
    );
    if (socket) {
      // Its own network namespace with only loopback; the Runtime API comes in through a socket.
      await fs.mkdir(o.socketDir, { recursive: true, mode: 0o711 });
      args.push('--unshare-net', '--dir', '/var/run', '--bind', socket, '/var/run/runtime-api.sock');
    }
    if (spec.layersDir) args.push('--ro-bind', spec.layersDir, '/opt');
    else args.push('--dir', '/opt');
    // Everything but /tmp read-only, including the folders bwrap made for mount points (/etc, /var).
    args.push('--remount-ro', '/', '--chdir', '/var/task');
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
      },
    };
  }
}
