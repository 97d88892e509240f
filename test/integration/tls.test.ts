/**
 * TLS on every hop, with real processes: nats-server with a tls block, a router serving gRPC and
 * HTTPS, an agent serving gRPC over TLS, all signed by one local CA (made with openssl, as
 * `stratus dev --tls` does). Plain text and certificates from another CA are refused at each hop.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connect } from '@nats-io/transport-node';
import { AgentServiceClient } from '../../proto/gen/stratus/v1/agent';
import { ensureDevCertificates, type DevCertificates } from '../../sdk/cli/dev/dev-certificates';
import { StratusClient } from '../../sdk/client/stratus-client';
import { StratusError } from '../../sdk/core/errors';
import { createLogger } from '../../sdk/platform/logger';
import { connectNats } from '../../sdk/platform/nats-connect';
import { loadTlsIdentity } from '../../sdk/platform/tls';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { freePort } from '../helpers/ports';
import { distEntry, startRouter, type StratusProcess } from '../helpers/stratus-process';

let certs: DevCertificates;
let otherCa: DevCertificates;
let cluster: TestCluster;
let fn: string;

const logger = createLogger({ component: 'tls-test' }, { level: 'error' });

const serve = (c: DevCertificates): Record<string, string> => ({ STRATUS_TLS_CERT_FILE: c.certFile, STRATUS_TLS_KEY_FILE: c.keyFile });

beforeAll(async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stratus-tls-'));
  certs = await ensureDevCertificates(path.join(dir, 'good'));
  otherCa = await ensureDevCertificates(path.join(dir, 'other'));
  cluster = await startCluster({
    natsConfig: `tls { cert_file: "${certs.certFile}", key_file: "${certs.keyFile}", timeout: 2 }`,
    routerEnv: { ...serve(certs), STRATUS_AGENT_TLS_CA_FILE: certs.caFile, STRATUS_NATS_CA_FILE: certs.caFile },
    agentEnv: { ...serve(certs), STRATUS_NATS_CA_FILE: certs.caFile },
    tlsCa: readFileSync(certs.caFile),
  });
  fn = uniqueName('tls-echo');
  await cluster.client().deploy({
    name: fn,
    source: functionDir({ 'index.js': 'exports.handler = async (event) => ({ echoed: event, secure: true });' }),
    settings: { runtime: 'nodejs', handler: 'index.handler' },
  });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

function rejection(p: Promise<unknown>): Promise<StratusError> {
  return p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: unknown) => {
      expect(err).toBeInstanceOf(StratusError);
      return err as StratusError;
    },
  );
}

function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .once('error', reject);
  });
}

describe('TLS round trips', () => {
  test('a client trusting the CA invokes through router and agent, both over TLS, with NATS over TLS', async () => {
    const client = cluster.client();
    const res = await client.invoke(fn, JSON.stringify({ n: 1 }));
    expect(JSON.parse(res.payload.toString())).toEqual({ echoed: { n: 1 }, secure: true });
    // The router reached the agent: it dialed with TLS (its agent CA is set) and the agent serves only TLS.
    const agentLog = readFileSync(cluster.agents[0]?.logFile ?? '', 'utf8');
    expect(agentLog).toMatch(/"msg":"agent ready".*"tls":"[^"]*CN=stratus-dev/);
  });

  test('the HTTP port serves HTTPS: readiness and a function URL answer over TLS, and the URL says https', async () => {
    const client = cluster.client();
    const url = await client.putFunctionUrl(fn, { auth: 'none' });
    expect(url.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    const res = await httpsGet(`${url.url}?q=1`, readFileSync(certs.caFile));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ secure: true });
  });

  test('an endpoint given as grpcs:// with a CA file (as the CLI profile does) connects', async () => {
    const router = cluster.routers[0] as StratusProcess;
    const client = new StratusClient({ endpoints: `grpcs://${router.address}`, token: cluster.apiToken, tls: { caFile: certs.caFile } });
    try {
      expect((await client.getCluster()).agents).toHaveLength(1);
    } finally {
      client.close();
    }
  });
});

describe('plain text is refused', () => {
  test('a plain-text client is told the router serves TLS', async () => {
    const router = cluster.routers[0] as StratusProcess;
    const client = new StratusClient({ endpoints: router.address, token: cluster.apiToken, maxAttempts: 1, connectTimeoutMs: 1000 });
    try {
      const err = await rejection(client.getCluster());
      expect(err.code).toBe('ServiceUnavailable');
      expect(err.message).toMatch(/serves TLS and this client spoke plain text: use grpcs:\/\//);
    } finally {
      client.close();
    }
  });

  test('plain HTTP to the router\'s HTTPS port gets no answer from the gateway', async () => {
    const router = cluster.routers[0] as StratusProcess;
    // Node's TLS server closes a connection that starts with anything but a TLS handshake.
    await expect(fetch(`http://127.0.0.1:${router.httpPort}/readyz`)).rejects.toThrow();
  });

  test('a plain-text gRPC connection to the agent never reaches its service', async () => {
    const agent = cluster.agents[0] as StratusProcess;
    const raw = new AgentServiceClient(agent.address, grpc.credentials.createInsecure());
    try {
      const ready = await new Promise<Error | undefined>((resolve) => raw.waitForReady(Date.now() + 1500, (err) => resolve(err)));
      expect(ready).toBeInstanceOf(Error);
    } finally {
      raw.close();
    }
  });

  test('a NATS client without TLS is refused by the server', async () => {
    await expect(connect({ servers: cluster.nats.url, timeout: 2000, reconnect: false })).rejects.toThrow();
  });

  test('a TLS client is told when the router speaks plain text', async () => {
    const port = await freePort();
    const server = new grpc.Server();
    await new Promise<void>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
    const client = new StratusClient({ endpoints: `127.0.0.1:${port}`, token: 't', tls: { caFile: certs.caFile }, maxAttempts: 1, connectTimeoutMs: 1000 });
    try {
      const err = await rejection(client.getCluster());
      expect(err.message).toMatch(/does not speak TLS/);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});

describe('a certificate from another CA is refused', () => {
  test('the SDK refuses a router whose certificate its CA did not sign, and says so', async () => {
    const router = cluster.routers[0] as StratusProcess;
    const client = new StratusClient({ endpoints: router.address, token: cluster.apiToken, tls: { caFile: otherCa.caFile }, maxAttempts: 1, connectTimeoutMs: 1000 });
    try {
      const err = await rejection(client.getCluster());
      expect(err.code).toBe('Unauthenticated');
      expect(err.message).toMatch(/does not trust .*pass --ca-file/);
    } finally {
      client.close();
    }
  });

  test('the SDK refuses a certificate for another name', async () => {
    const router = cluster.routers[0] as StratusProcess;
    const client = new StratusClient({ endpoints: router.address, token: cluster.apiToken, tls: { caFile: certs.caFile, serverName: 'router.example.com' }, maxAttempts: 1, connectTimeoutMs: 1000 });
    try {
      const err = await rejection(client.getCluster());
      expect(err.message).toMatch(/certificate at .* is not for router\.example\.com/);
    } finally {
      client.close();
    }
  });

  test('HTTPS with another CA fails verification', async () => {
    const router = cluster.routers[0] as StratusProcess;
    await expect(httpsGet(`https://127.0.0.1:${router.httpPort}/readyz`, readFileSync(otherCa.caFile))).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  test('a router trusting another CA for agents cannot place invocations on them', async () => {
    const router = await startRouter('router-wrong-ca', {
      natsUrl: cluster.nats.url,
      apiToken: cluster.apiToken,
      clusterToken: cluster.clusterToken,
      logDir: cluster.logDir,
      httpsCa: readFileSync(certs.caFile),
      env: { ...serve(certs), STRATUS_AGENT_TLS_CA_FILE: otherCa.caFile, STRATUS_NATS_CA_FILE: certs.caFile, STRATUS_PLACEMENT_WAIT_MS: '500' },
    });
    const client = cluster.client({ maxAttempts: 1 }, [router]);
    try {
      const err = await rejection(client.invoke(fn, '{}'));
      expect(['ServiceUnavailable', 'TooManyRequests']).toContain(err.code);
    } finally {
      client.close();
      await router.stop();
    }
  }, 60_000);

  test('NATS with another CA fails start-up with the variable to fix', async () => {
    const err = await rejection(connectNats({ servers: cluster.nats.url, name: 'wrong-ca', connectTimeoutMs: 2000, tls: { caFile: otherCa.caFile, certFile: undefined, keyFile: undefined } }, logger));
    expect(err.message).toMatch(/TLS with NATS .* STRATUS_NATS_CA_FILE/);
  });

  test('NATS with the right CA connects', async () => {
    const nc = await connectNats({ servers: cluster.nats.url, name: 'right-ca', connectTimeoutMs: 2000, tls: { caFile: certs.caFile, certFile: undefined, keyFile: undefined } }, logger);
    await nc.close();
  });
});

describe('bad certificate files fail start-up by name', () => {
  const names = { cert: 'STRATUS_TLS_CERT_FILE', key: 'STRATUS_TLS_KEY_FILE' };

  test('a certificate without its key', () => {
    expect(() => loadTlsIdentity(certs.certFile, undefined, names)).toThrow(/set both STRATUS_TLS_CERT_FILE and STRATUS_TLS_KEY_FILE/);
  });

  test('a key that is not the certificate\'s', () => {
    expect(() => loadTlsIdentity(certs.certFile, otherCa.keyFile, names)).toThrow(/is not the key of the certificate/);
  });

  test('an expired certificate', () => {
    expect(() => loadTlsIdentity(certs.certFile, certs.keyFile, names, new Date(Date.now() + 500 * 24 * 3600 * 1000))).toThrow(/expired on/);
  });

  test('a router given a missing certificate file exits naming the variable', async () => {
    const missing = path.join(os.tmpdir(), `no-such-${randomBytes(4).toString('hex')}.pem`);
    const env = { PATH: process.env.PATH, STRATUS_NATS_URL: cluster.nats.url, STRATUS_API_TOKENS: 'a', STRATUS_CLUSTER_TOKEN: 'c', STRATUS_TLS_CERT_FILE: missing, STRATUS_TLS_KEY_FILE: certs.keyFile };
    const run = spawnSync(process.execPath, [distEntry('router/main.js')], { env, encoding: 'utf8', timeout: 20_000 });
    expect(run.status).not.toBe(0);
    expect(run.stdout + run.stderr).toContain(`STRATUS_TLS_CERT_FILE=${missing}: cannot read the certificate`);
  }, 30_000);
});
