/**
 * Where the CPU goes: CPU time per invocation of every process on the path (the calling client,
 * nats-server, router, agent, the instance's process tree), read from /proc before and after a
 * run. On a 2-core machine throughput is CPU-bound, so this is the profile that says which hop
 * to make cheaper. Not part of `npm run bench`'s table; run `node dist/bench/cpu-split.js
 * [sync|async] [invocations] [callers]` after `npm run build`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { functionFolder, startBenchCluster } from './bench-cluster';
import { measure } from './stats';

const TICKS_PER_S = 100; // USER_HZ on Linux

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

interface ProcCpu {
  pid: number;
  ppid: number;
  command: string;
  cpuTicks: number;
}

function processes(): ProcCpu[] {
  const out: ProcCpu[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const stat = read(`/proc/${d}/stat`);
    if (!stat) continue;
    // The command may hold spaces and parentheses: the fields after the last ')' are fixed.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.push({ pid: Number(d), ppid: Number(f[1]), command: read(`/proc/${d}/cmdline`).split('\0').filter(Boolean).join(' '), cpuTicks: Number(f[11]) + Number(f[12]) });
  }
  return out;
}

/** Names each process under this one (and nats-server) by its role on the path. */
function role(p: ProcCpu, byPid: Map<number, ProcCpu>): string | undefined {
  if (p.pid === process.pid) return 'client (this process)';
  if (/nats-server/.test(p.command)) return 'nats-server';
  if (/router\/main\.js/.test(p.command)) return 'router';
  if (/node-agent\/main\.js/.test(p.command)) return 'agent';
  for (let q = byPid.get(p.ppid); q; q = byPid.get(q.ppid)) {
    if (/node-agent\/main\.js/.test(q.command)) return 'instance (runtime and sandbox)';
    if (q.pid === process.pid) return undefined;
  }
  return undefined;
}

function cpuByRole(): Map<string, number> {
  const all = processes();
  const byPid = new Map(all.map((p) => [p.pid, p]));
  const sums = new Map<string, number>();
  for (const p of all) {
    const r = role(p, byPid);
    if (r) sums.set(r, (sums.get(r) ?? 0) + p.cpuTicks);
  }
  // This process's own figure is finer from process.cpuUsage().
  const u = process.cpuUsage();
  sums.set('client (this process)', ((u.user + u.system) / 1e6) * TICKS_PER_S);
  return sums;
}

async function main(): Promise<void> {
  const [mode = 'sync', n = '5000', callers = '64'] = process.argv.slice(2);
  const total = Number(n);
  const bench = await startBenchCluster();
  try {
    const name = `cpu-${Date.now()}`;
    await bench.client.deploy({ name, source: functionFolder({ 'index.js': 'exports.handler = async (event) => event;' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    const op = mode === 'async' ? () => bench.client.invokeAsync(name, '{"hello":"world"}').then(() => undefined) : () => bench.client.invoke(name, '{"hello":"world"}').then(() => undefined);
    await measure(500, Number(callers), op);
    await new Promise((r) => setTimeout(r, 2000));
    const before = cpuByRole();
    const t0 = performance.now();
    const stats = await measure(total, Number(callers), op);
    if (mode === 'async') await new Promise((r) => setTimeout(r, 5000)); // let the dispatch finish (idle CPU is near zero)
    const wallS = (performance.now() - t0) / 1000;
    const after = cpuByRole();
    const rows = [...after.entries()].map(([r, v]) => ({ role: r, usPerCall: (((v - (before.get(r) ?? 0)) / TICKS_PER_S) * 1e6) / total }));
    rows.sort((a, b) => b.usPerCall - a.usPerCall);
    const sum = rows.reduce((a, r) => a + r.usPerCall, 0);
    process.stdout.write(`${mode}: ${total} calls, ${callers} callers, ${stats.throughputPerS.toFixed(0)}/s accepted, p50 ${stats.p50Ms.toFixed(2)} ms, wall ${wallS.toFixed(1)} s\n`);
    for (const r of rows) process.stdout.write(`${r.role.padEnd(32)} ${r.usPerCall.toFixed(0).padStart(6)} us/call  ${((100 * r.usPerCall) / sum).toFixed(0).padStart(3)}%\n`);
    process.stdout.write(`${'total'.padEnd(32)} ${sum.toFixed(0).padStart(6)} us/call  (2 cores: at most ${((2e6 / sum) | 0).toString()} calls/s)\n`);
  } finally {
    await bench.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err instanceof Error ? err.stack : err)}\n`);
  process.exit(1);
});
