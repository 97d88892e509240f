/**
 * What identity and metering cost on the invoke path, against baselines in the same run:
 * - a warm invoke with a tenant's token (looked up in the identity store's mirror, authorized
 *   against the function's tenant) against the same invoke with the bootstrap administrator token
 *   (a hash compared in memory);
 * - a usage record stored by the group-committing UsageRecorder, one caller and 64, against a raw
 *   acknowledged JetStream publish of the same size;
 * - minting and verifying a function's session credentials against a bare HMAC-SHA256.
 */
import { createHmac } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { StratusClient } from '../sdk/client/stratus-client';
import { createLogger } from '../sdk/platform/logger';
import { UsageRecorder } from '../router/metering/usage-recorder';
import { SessionTokens } from '../router/auth/session-tokens';
import type { AuthStore } from '../router/auth/auth-store';
import { functionFolder, type BenchCluster } from './bench-cluster';
import { measure, medianRound, type LatencyStats } from './stats';

export interface SecurityFigures {
  tenantInvoke: LatencyStats;
  adminInvoke: LatencyStats;
  usageRecord: Record<1 | 64, LatencyStats>;
  rawPublish: Record<1 | 64, LatencyStats>;
  sessionMintVerify: LatencyStats;
  bareHmac: LatencyStats;
}

export async function measureSecurity(bench: BenchCluster, n: number): Promise<SecurityFigures> {
  const { client } = bench;
  await client.deploy({ name: 'noop-sec', source: functionFolder({ 'index.js': 'exports.handler = async (e) => e;' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
  const { token } = await client.auth.createToken({ tenant: 'default', principal: 'bench' });
  const tenant = new StratusClient({ endpoints: bench.cluster.endpoint, token });
  const payload = '{"hello":"world"}';
  const invoke = (c: StratusClient) => async (): Promise<void> => {
    const r = await c.invoke('noop-sec', payload);
    if (r.functionError) throw new Error(r.functionError.errorMessage);
  };
  await measure(300, 1, invoke(tenant));
  await measure(300, 1, invoke(client));
  // Alternating rounds, so drift in the machine's load falls on both alike; the figures are the rounds' medians.
  const tenantRounds: LatencyStats[] = [];
  const adminRounds: LatencyStats[] = [];
  for (let round = 0; round < 5; round += 1) {
    adminRounds.push(await measure(Math.ceil(n / 5), 1, invoke(client)));
    tenantRounds.push(await measure(Math.ceil(n / 5), 1, invoke(tenant)));
  }
  const tenantInvoke = medianRound(tenantRounds);
  const adminInvoke = medianRound(adminRounds);
  tenant.close();

  const nats = bench.cluster.natsAdmin;
  const nc = await connect({ servers: nats.url, user: nats.user, pass: nats.password });
  try {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const recorder = new UsageRecorder(js, jsm, createLogger({ component: 'bench' }, { level: 'error' }), { replicas: 1, maxAgeMs: 3600_000, waitMs: 10_000, routerId: 'bench' });
    await recorder.ensureStream();
    let i = 0;
    const record = async (): Promise<void> => recorder.record({ tenant: 'benchtenant', functionName: 'noop-sec', requestId: `r-${(i += 1)}`, billedMs: 2, memoryMb: 128, atMs: Date.now() });
    const body = JSON.stringify([['noop-sec', '00000000-0000-0000-0000-000000000000', 2, 128, Date.now()]]);
    const publish = async (): Promise<void> => {
      await js.publish('stratus.usage.bench.raw', body);
    };
    const usageRecord = {} as SecurityFigures['usageRecord'];
    const rawPublish = {} as SecurityFigures['rawPublish'];
    for (const c of [1, 64] as const) {
      await measure(300, c, record);
      usageRecord[c] = await measure(n, c, record);
      await measure(300, c, publish);
      rawPublish[c] = await measure(n, c, publish);
    }
    await recorder.stop(5000);

    const key = new Map<string, unknown>();
    const store = { create: async (k: string, v: unknown) => (key.has(k) ? false : (key.set(k, v), true)), get: async (k: string) => key.get(k) } as unknown as AuthStore;
    const sessions = await SessionTokens.open(store);
    const claims = { tenant: 'acme', role: 'worker', functionName: 'noop-sec', depth: 1, requestId: '00000000-0000-0000-0000-000000000000', expiresMs: Date.now() + 3600_000 };
    const sessionMintVerify = await measure(n * 10, 1, async () => void sessions.verify(sessions.mint(claims)));
    const hmacKey = Buffer.alloc(32, 7);
    const bareHmac = await measure(n * 10, 1, async () => void createHmac('sha256', hmacKey).update(JSON.stringify(claims)).digest('base64url'));
    return { tenantInvoke, adminInvoke, usageRecord, rawPublish, sessionMintVerify, bareHmac };
  } finally {
    await nc.close();
  }
}
