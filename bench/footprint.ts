/**
 * Footprint: memory of an idle warm instance per runtime (its whole process tree inside the
 * sandbox, from /proc, and its cgroup's own count), of an idle agent and of an idle router.
 * Baselines: a bare `node -e` and a bare `python3 -c` process sitting idle, measured in the same run.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { NOOP_FUNCTIONS } from './cold-start';
import { functionFolder } from './bench-cluster';
import { processMemory, startBenchProcesses } from './router-memory';

/** Memory of one process tree. */
export interface TreeMemory {
  /** Sum of VmRSS over the tree (shared pages counted in every process). */
  rssMb: number;
  /** Sum of VmHWM (peak RSS) over the tree. */
  peakRssMb: number;
  /** Sum of Pss over the tree (shared pages split between the processes sharing them). */
  pssMb: number;
  /** The instance cgroup's usage, when the tree runs in one of its own (includes its page cache). */
  cgroupMb: number | undefined;
  processes: Array<{ pid: number; command: string; rssMb: number; peakRssMb: number }>;
}

/** Footprint figures. */
export interface FootprintFigures {
  instances: Record<string, TreeMemory>;
  /** Pre-started generic runtimes waiting for a function, per runtime. */
  prestarted: Record<string, TreeMemory>;
  bareNode: TreeMemory;
  barePython: TreeMemory;
  bareSh: TreeMemory;
  agent: TreeMemory;
  router: TreeMemory;
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    // The command may hold spaces and parentheses: the fields after the last ')' are fixed.
    const stat = read(`/proc/${d}/stat`);
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) out.push(Number(d));
  }
  return out;
}

function treeOf(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i += 1) all.push(...childrenOf(all[i] as number));
  return all;
}

function pssMb(pid: number): number {
  const kb = /^Pss:\s+(\d+) kB/m.exec(read(`/proc/${pid}/smaps_rollup`))?.[1];
  return kb === undefined ? 0 : Number(kb) / 1024;
}

/** The memory cgroup's usage of `pid`, if it is not the root's or ours (cgroup v2, then v1). */
function cgroupMb(pid: number): number | undefined {
  const lines = read(`/proc/${pid}/cgroup`).split('\n');
  const ownLines = read('/proc/self/cgroup').split('\n');
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  const v1 = lines.find((l) => /^\d+:memory:/.test(l))?.split(':')[2];
  const own = (prefix: RegExp): string | undefined => ownLines.find((l) => prefix.test(l))?.split(':')[2];
  const candidates: Array<[string | undefined, string | undefined, string]> = [
    [v2, own(/^0::/), 'memory.current'],
    [v1, own(/^\d+:memory:/), 'memory.usage_in_bytes'],
  ];
  for (const [p, mine, file] of candidates) {
    if (!p || p === '/' || p === mine) continue;
    for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/memory']) {
      const f = `${root}${p}/${file}`;
      if (existsSync(f)) return Number(read(f).trim()) / 1024 ** 2;
    }
  }
  return undefined;
}

/** Memory of the process tree rooted at `pid`. */
export function treeMemory(pid: number): TreeMemory {
  const pids = treeOf(pid);
  const processes = pids.map((p) => ({ pid: p, command: read(`/proc/${p}/cmdline`).split('\0').slice(0, 3).join(' ').slice(0, 120), ...(existsSync(`/proc/${p}`) ? processMemory(p) : { rssMb: 0, peakRssMb: 0, anonMb: 0 }) }));
  const cg = pids.map(cgroupMb).find((v) => v !== undefined);
  const sum = (f: (x: { rssMb: number; peakRssMb: number }) => number): number => processes.reduce((a, p) => a + (Number.isNaN(f(p)) ? 0 : f(p)), 0);
  return { rssMb: sum((p) => p.rssMb), peakRssMb: sum((p) => p.peakRssMb), pssMb: pids.reduce((a, p) => a + pssMb(p), 0), cgroupMb: cg, processes };
}

async function bare(command: string, args: string[]): Promise<TreeMemory> {
  const child = spawn(command, args, { stdio: 'ignore' });
  try {
    await settle(1500);
    return treeMemory(child.pid as number);
  } finally {
    child.kill('SIGKILL');
  }
}

/** The agent's child tree that serves `functionName` (found by the function's environment). */
function instanceTree(agentPid: number, functionName: string): number | undefined {
  for (const child of childrenOf(agentPid)) {
    for (const p of treeOf(child)) {
      if (read(`/proc/${p}/environ`).split('\0').includes(`AWS_LAMBDA_FUNCTION_NAME=${functionName}`)) return child;
    }
  }
  return undefined;
}

/** Measures idle footprints; pre-started generic runtimes are off so every process tree belongs to a known function. */
export async function measureFootprint(): Promise<FootprintFigures> {
  const bareNode = await bare(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)']);
  const barePython = await bare('/usr/bin/python3', ['-c', 'import time\ntime.sleep(1 << 30)']);
  const bareSh = await bare('/bin/sh', ['-c', 'while :; do sleep 1000; done']);
  const p = await startBenchProcesses({ STRATUS_PRESTART_NODEJS: '0', STRATUS_PRESTART_PYTHON: '0' });
  try {
    await settle(1500);
    const router = treeMemory(p.router().process.pid as number);
    const agentPid = p.agent.process.pid as number;
    const agentTree = treeMemory(agentPid);
    // The agent alone: its instances are counted in their own rows.
    const own = agentTree.processes[0];
    const agent: TreeMemory = { processes: own ? [own] : [], rssMb: own?.rssMb ?? NaN, peakRssMb: own?.peakRssMb ?? NaN, pssMb: pssMb(agentPid), cgroupMb: undefined };
    const instances: Record<string, TreeMemory> = {};
    for (const runtime of ['nodejs', 'python', 'provided'] as const) {
      const name = `footprint-${runtime}-${Date.now()}`;
      const fn = NOOP_FUNCTIONS[runtime];
      await p.client.deploy({ name, source: functionFolder(fn.files), settings: { runtime, handler: fn.handler } });
      for (let i = 0; i < 3; i += 1) {
        const r = await p.client.invoke(name, '{"hello":"world"}');
        if (r.functionError) throw new Error(`${runtime}: ${r.functionError.errorMessage}`);
      }
      // Idle: the instance has answered and waits for its next invocation.
      await settle(1500);
      const root = instanceTree(agentPid, name);
      if (root === undefined) throw new Error(`no process of ${name} found under the agent`);
      instances[runtime] = treeMemory(root);
    }
    return { instances, prestarted: await measurePrestarted(), bareNode, barePython, bareSh, agent, router };
  } finally {
    await p.stop();
  }
}

/** Idle pre-started runtimes: an agent with one of each and no functions; its children are those runtimes' sandboxes. */
async function measurePrestarted(): Promise<Record<string, TreeMemory>> {
  const p = await startBenchProcesses({ STRATUS_PRESTART_NODEJS: '1', STRATUS_PRESTART_PYTHON: '1' });
  try {
    const out: Record<string, TreeMemory> = {};
    for (let waited = 0; waited < 10_000 && Object.keys(out).length < 2; waited += 500) {
      await settle(500);
      for (const child of childrenOf(p.agent.process.pid as number)) {
        const tree = treeMemory(child);
        const runtime = tree.processes.some((x) => x.command.includes('python')) ? 'python' : tree.processes.some((x) => x.command.includes('nodejs/bootstrap')) ? 'nodejs' : undefined;
        if (runtime) out[runtime] = tree;
      }
    }
    // Measured again after a pause, so a runtime still loading is not caught half-way.
    await settle(1500);
    for (const child of childrenOf(p.agent.process.pid as number)) {
      const tree = treeMemory(child);
      const runtime = tree.processes.some((x) => x.command.includes('python')) ? 'python' : tree.processes.some((x) => x.command.includes('nodejs/bootstrap')) ? 'nodejs' : undefined;
      if (runtime) out[runtime] = tree;
    }
    return out;
  } finally {
    await p.stop();
  }
}

if (require.main === module) {
  measureFootprint()
    .then((f) => process.stdout.write(`${JSON.stringify(f, null, 2)}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
