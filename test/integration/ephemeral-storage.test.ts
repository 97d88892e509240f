/**
 * /tmp is disk, not memory: each instance's /tmp is a disk of its own, sized by the function's
 * ephemeral storage and not charged to its memory, as on Lambda. Real agents, real bwrap sandboxes,
 * real loop-mounted disks.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { StratusClient } from '../../sdk/client/stratus-client';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { waitFor } from '../helpers/ports';

const HANDLER = `
const fs = require('fs');
const crypto = require('crypto');
exports.handler = async (e) => {
  if (e.op === 'fill') {
    // Writes e.mb MB of a known pattern, then reads it back: both hashes must match.
    const chunk = Buffer.alloc(1024 * 1024);
    const wrote = crypto.createHash('sha256');
    const fd = fs.openSync('/tmp/big', 'w');
    try {
      for (let i = 0; i < e.mb; i += 1) {
        chunk.fill(i % 251);
        fs.writeSync(fd, chunk);
        wrote.update(chunk);
      }
    } catch (err) {
      return { error: err.code, writtenMb: fs.fstatSync(fd).size / 1024 / 1024 };
    } finally {
      fs.closeSync(fd);
    }
    const read = crypto.createHash('sha256');
    const rfd = fs.openSync('/tmp/big', 'r');
    const buf = Buffer.alloc(1024 * 1024);
    for (let n; (n = fs.readSync(rfd, buf)) > 0; ) read.update(buf.subarray(0, n));
    fs.closeSync(rfd);
    return { wrote: wrote.digest('hex'), read: read.digest('hex'), sizeMb: fs.statSync('/tmp/big').size / 1024 / 1024 };
  }
  if (e.op === 'mark') {
    fs.writeFileSync('/tmp/mine-' + e.id, e.id);
    await new Promise((r) => setTimeout(r, e.holdMs || 0));
    return { seen: fs.readdirSync('/tmp').sort() };
  }
  if (e.op === 'rm') {
    fs.rmSync('/tmp/big', { force: true });
    return { seen: fs.readdirSync('/tmp') };
  }
  return { seen: fs.readdirSync('/tmp').sort(), free: fs.statfsSync('/tmp').bavail * fs.statfsSync('/tmp').bsize / 1024 / 1024 };
};
`;

/** Mount points under `dir` in this (the agents') mount namespace. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith(`${dir}/`));
}

describe("instances' /tmp on disk", () => {
  let cluster: TestCluster;
  let client: StratusClient;
  let dataDir: string;

  beforeAll(async () => {
    cluster = await startCluster({ agents: 1, agentEnv: { STRATUS_SANDBOX_TMP: 'disk', STRATUS_IDLE_TIMEOUT_MS: '3000', STRATUS_PRESTART_NODEJS: '0', STRATUS_PRESTART_PYTHON: '0' } });
    client = cluster.client({ maxAttempts: 1 });
    dataDir = cluster.agents[0]!.env.STRATUS_DATA_DIR!;
  }, 60_000);
  afterAll(async () => cluster?.stop());

  test('a 128 MB function writes 500 MB to /tmp and reads it back intact', async () => {
    const fn = uniqueName('tmp-fill');
    await client.deploy({ name: fn, source: functionDir({ 'index.js': HANDLER }), settings: { runtime: 'nodejs', handler: 'index.handler', memoryMb: 128, timeoutSeconds: 120 } });
    const res = await client.invoke(fn, JSON.stringify({ op: 'fill', mb: 500 }), { timeoutMs: 150_000 });
    expect(res.functionError).toBeUndefined();
    const out = JSON.parse(res.payload.toString()) as { wrote: string; read: string; sizeMb: number };
    expect(out.sizeMb).toBe(500);
    expect(out.read).toBe(out.wrote);
    // /tmp survives between warm invocations of the instance.
    const again = JSON.parse((await client.invoke(fn, '{}')).payload.toString()) as { seen: string[] };
    expect(again.seen).toEqual(['big']);
  }, 180_000);

  test('writing past the ephemeral storage fails with ENOSPC while the function keeps running', async () => {
    const fn = uniqueName('tmp-full');
    await client.deploy({ name: fn, source: functionDir({ 'index.js': HANDLER }), settings: { runtime: 'nodejs', handler: 'index.handler', memoryMb: 128, timeoutSeconds: 120, ephemeralStorageMb: 600 } });
    const first = JSON.parse((await client.invoke(fn, '{}')).payload.toString()) as { seen: string[]; free: number };
    // Empty at start, and at least the storage asked for.
    expect(first.seen).toEqual([]);
    expect(first.free).toBeGreaterThanOrEqual(600);
    const full = await client.invoke(fn, JSON.stringify({ op: 'fill', mb: 2000 }), { timeoutMs: 150_000 });
    expect(full.functionError).toBeUndefined();
    const out = JSON.parse(full.payload.toString()) as { error: string; writtenMb: number };
    expect(out.error).toBe('ENOSPC');
    expect(out.writtenMb).toBeGreaterThanOrEqual(600);
    expect(out.writtenMb).toBeLessThan(700);
    // Same instance, still alive, and it can free its space.
    const after = await client.invoke(fn, JSON.stringify({ op: 'rm' }));
    expect(after.report?.coldStart).toBe(false);
    expect(JSON.parse(after.payload.toString())).toEqual({ seen: [] });
  }, 180_000);

  test("two instances never see each other's files, and an instance's disk is gone once it stops", async () => {
    const fn = uniqueName('tmp-two');
    await client.deploy({ name: fn, source: functionDir({ 'index.js': HANDLER }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    const [a, b] = await Promise.all(['a', 'b'].map((id) => client.invoke(fn, JSON.stringify({ op: 'mark', id, holdMs: 1500 }))));
    expect(a!.report?.coldStart && b!.report?.coldStart).toBe(true);
    expect(JSON.parse(a!.payload.toString())).toEqual({ seen: ['mine-a'] });
    expect(JSON.parse(b!.payload.toString())).toEqual({ seen: ['mine-b'] });
    const disks = path.join(dataDir, 'ephemeral');
    expect(mountsUnder(disks).length).toBeGreaterThanOrEqual(2);
    // Idle past the keep-alive: the instances stop, and their disks are unmounted and deleted.
    await waitFor('the idle instances and their disks to go', async () => mountsUnder(disks).length === 0 && readdirSync(disks).length === 0, 20_000, 200);
  }, 60_000);

  test('an agent restarted after SIGKILL removes the disks its previous run left', async () => {
    const fn = uniqueName('tmp-crash');
    await client.deploy({ name: fn, source: functionDir({ 'index.js': HANDLER }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    await client.invoke(fn, JSON.stringify({ op: 'mark', id: 'x' }));
    const disks = path.join(dataDir, 'ephemeral');
    expect(mountsUnder(disks)).toHaveLength(1);
    const old = cluster.agents[0]!;
    await old.kill();
    // Left behind: the mount and the image.
    expect(mountsUnder(disks)).toHaveLength(1);
    expect(readdirSync(disks).some((f) => f.endsWith('.img'))).toBe(true);
    cluster.agents.splice(0, 1);
    const agent = await cluster.addAgent('agent-restarted', { STRATUS_DATA_DIR: dataDir });
    expect(mountsUnder(disks)).toEqual([]);
    expect(existsSync(disks) ? readdirSync(disks) : []).toEqual([]);
    await waitFor('the router to see the new agent', async () => (await client.getCluster()).agents.some((x) => x.agentId === agent.name), 20_000, 100);
    // And it serves: a new instance gets a fresh, empty /tmp.
    const res = JSON.parse((await client.invoke(fn, '{}')).payload.toString()) as { seen: string[] };
    expect(res.seen).toEqual([]);
  }, 90_000);
});
