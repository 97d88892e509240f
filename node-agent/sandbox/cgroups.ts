import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** Limits for one instance's cgroup. */
export interface CgroupLimits {
  memoryBytes: number;
  /** Most processes and threads (a fork bomb stops here). */
  pids: number;
  /** CPU share relative to 1024 (proportional to memory, as in Lambda). */
  cpuShares: number;
}

/** One instance's cgroup(s). */
export interface CgroupHandle {
  /** cgroup.procs files a process writes its pid to, to join before it starts the runtime. */
  readonly procsFiles: string[];
  /** Whether the kernel killed a process of the instance for memory. */
  oomKilled(): Promise<boolean>;
  /** Peak memory of the whole instance in bytes (0 where the kernel does not keep it). */
  peakMemoryBytes(): Promise<number>;
  /** Kills every process in the instance, wherever it forked to. */
  killAll(): Promise<void>;
  /** Removes the cgroup(s) once empty. */
  destroy(): Promise<void>;
  /** Changes the limits of the live group (how a pre-started runtime takes its function's sizes). */
  setLimits(limits: CgroupLimits): Promise<void>;
}

/** Creates cgroups for instances on one host. */
export interface CgroupDriver {
  readonly version: 'v1' | 'v2';
  create(id: string, limits: CgroupLimits): Promise<CgroupHandle>;
}

async function write(file: string, value: string | number): Promise<void> {
  await fs.writeFile(file, String(value));
}

async function readNumber(file: string): Promise<number> {
  try {
    return Number((await fs.readFile(file, 'utf8')).trim()) || 0;
  } catch {
    return 0;
  }
}

async function readKey(file: string, key: string): Promise<number> {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(await fs.readFile(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

async function pidsIn(procsFile: string): Promise<number[]> {
  try {
    return (await fs.readFile(procsFile, 'utf8')).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** SIGKILLs every pid listed until the cgroup is empty (a forking process may add some while we kill). */
async function killUntilEmpty(procsFile: string): Promise<void> {
  for (let round = 0; round < 50; round += 1) {
    const pids = await pidsIn(procsFile);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function removeWhenEmpty(dir: string): Promise<void> {
  for (let i = 0; i < 50; i += 1) {
    try {
      await fs.rmdir(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** cgroup v2: one unified hierarchy. */
class V2Driver implements CgroupDriver {
  readonly version = 'v2' as const;
  constructor(private readonly parent: string) {}

  async create(id: string, limits: CgroupLimits): Promise<CgroupHandle> {
    const dir = path.join(this.parent, id);
    await fs.mkdir(dir, { recursive: true });
    const setLimits = async (l: CgroupLimits): Promise<void> => {
      await write(path.join(dir, 'memory.max'), l.memoryBytes);
      await write(path.join(dir, 'memory.swap.max'), 0).catch(() => undefined);
      await write(path.join(dir, 'pids.max'), l.pids);
      // cpu.weight is 1-10000 with 100 as the default share; cpu.shares' 1024 maps to 100.
      await write(path.join(dir, 'cpu.weight'), Math.max(1, Math.min(10_000, Math.round((l.cpuShares / 1024) * 100)))).catch(() => undefined);
    };
    await setLimits(limits);
    const procs = path.join(dir, 'cgroup.procs');
    return {
      procsFiles: [procs],
      oomKilled: async () => (await readKey(path.join(dir, 'memory.events'), 'oom_kill')) > 0,
      peakMemoryBytes: async () => (await readNumber(path.join(dir, 'memory.peak'))) || readNumber(path.join(dir, 'memory.current')),
      killAll: async () => {
        if (existsSync(path.join(dir, 'cgroup.kill'))) await write(path.join(dir, 'cgroup.kill'), 1).catch(() => undefined);
        await killUntilEmpty(procs);
      },
      destroy: () => removeWhenEmpty(dir),
      setLimits,
    };
  }
}

/** cgroup v1: separate memory, pids and cpu hierarchies. */
class V1Driver implements CgroupDriver {
  readonly version = 'v1' as const;
  constructor(private readonly roots: { memory: string; pids: string; cpu: string }) {}

  async create(id: string, limits: CgroupLimits): Promise<CgroupHandle> {
    const mem = path.join(this.roots.memory, 'stratus', id);
    const pids = path.join(this.roots.pids, 'stratus', id);
    const cpu = path.join(this.roots.cpu, 'stratus', id);
    await Promise.all([mem, pids, cpu].map((d) => fs.mkdir(d, { recursive: true })));
    const setLimits = async (l: CgroupLimits): Promise<void> => {
      const limit = path.join(mem, 'memory.limit_in_bytes');
      // Without swap accounting this file is absent; the memory limit alone then applies.
      const memsw = path.join(mem, 'memory.memsw.limit_in_bytes');
      // v1 keeps limit <= memsw limit at every step: raising moves memsw first, lowering moves the limit first.
      const current = await readNumber(limit);
      if (current !== 0 && l.memoryBytes > current) {
        await write(memsw, l.memoryBytes).catch(() => undefined);
        await write(limit, l.memoryBytes);
      } else {
        await write(limit, l.memoryBytes);
        await write(memsw, l.memoryBytes).catch(() => undefined);
      }
      await write(path.join(pids, 'pids.max'), l.pids);
      await write(path.join(cpu, 'cpu.shares'), Math.max(2, Math.round(l.cpuShares)));
    };
    await setLimits(limits);
    const files = [mem, pids, cpu].map((d) => path.join(d, 'cgroup.procs'));
    return {
      procsFiles: files,
      oomKilled: async () => (await readKey(path.join(mem, 'memory.oom_control'), 'oom_kill')) > 0,
      peakMemoryBytes: () => readNumber(path.join(mem, 'memory.max_usage_in_bytes')),
      killAll: () => killUntilEmpty(path.join(pids, 'cgroup.procs')),
      destroy: async () => {
        await Promise.all([mem, pids, cpu].map(removeWhenEmpty));
      },
      setLimits,
    };
  }
}

function controllersV2(root: string): string[] {
  try {
    return readFileSync(path.join(root, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
  } catch {
    return [];
  }
}

/**
 * Finds a usable cgroup hierarchy: v2 when the unified hierarchy offers memory and pids, else v1
 * with memory, pids and cpu mounted; undefined when neither is writable here.
 */
export async function detectCgroups(root = '/sys/fs/cgroup'): Promise<CgroupDriver | undefined> {
  const v2 = controllersV2(root);
  if (v2.includes('memory') && v2.includes('pids')) {
    const parent = path.join(root, 'stratus');
    try {
      await fs.mkdir(parent, { recursive: true });
      // Child cgroups get the controllers only when the parent delegates them.
      await write(path.join(root, 'cgroup.subtree_control'), '+memory +pids +cpu').catch(() => write(path.join(root, 'cgroup.subtree_control'), '+memory +pids'));
      await write(path.join(parent, 'cgroup.subtree_control'), '+memory +pids +cpu').catch(() => write(path.join(parent, 'cgroup.subtree_control'), '+memory +pids'));
      return new V2Driver(parent);
    } catch {
      // Not ours to change (a container without delegation): try v1 below.
    }
  }
  const roots = { memory: path.join(root, 'memory'), pids: path.join(root, 'pids'), cpu: path.join(root, 'cpu') };
  if (Object.values(roots).every((r) => existsSync(path.join(r, 'cgroup.procs')))) {
    try {
      for (const r of Object.values(roots)) await fs.mkdir(path.join(r, 'stratus'), { recursive: true });
      return new V1Driver(roots);
    } catch {
      return undefined;
    }
  }
  return undefined;
}
