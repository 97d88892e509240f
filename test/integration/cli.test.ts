import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { StratusClient } from '../../sdk/client/stratus-client';
import type { Profile } from '../../sdk/cli/profile';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { freePort, waitFor } from '../helpers/ports';
import { distEntry, ROOT } from '../helpers/stratus-process';

const CLI = distEntry('sdk/cli/main.js');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the stratus binary as a user would, with only the environment given. */
function stratus(args: string[], env: Record<string, string>, input?: string): CliRun {
  const res = spawnSync(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), ...env },
    input,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('stratus CLI against a running cluster', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const name = uniqueName('cli');

  beforeAll(async () => {
    cluster = await startCluster({ agents: 1 });
    env = { STRATUS_ENDPOINT: cluster.routers[0]!.address, STRATUS_TOKEN: cluster.apiToken, STRATUS_CONFIG: path.join(mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'c.json') };
  }, 60_000);
  afterAll(async () => cluster?.stop());

  test('deploy creates a function when given a folder, runtime and handler', () => {
    const dir = functionDir({
      'index.js': `exports.handler = async (event) => {
        console.log('got', JSON.stringify(event));
        if (event.fail) throw new RangeError('asked to fail');
        return { echo: event, env: process.env.GREETING };
      };`,
    });
    const res = stratus(['deploy', name, dir, '--runtime', 'nodejs20.x', '--handler', 'index.handler', '--memory', '256', '--env', 'GREETING=hi'], env);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`${name}: created`);
  });

  test('invoke prints the result on stdout when the payload comes from a flag, a file or stdin', () => {
    const flag = stratus(['invoke', name, '--payload', '{"a":1}'], env);
    expect(flag.code).toBe(0);
    expect(JSON.parse(flag.stdout)).toEqual({ echo: { a: 1 }, env: 'hi' });

    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'payload-')), 'event.json');
    writeFileSync(file, '{"from":"file"}');
    expect(JSON.parse(stratus(['invoke', name, '--payload-file', file], env).stdout)).toEqual({ echo: { from: 'file' }, env: 'hi' });

    expect(JSON.parse(stratus(['invoke', name], env, '{"from":"stdin"}').stdout)).toEqual({ echo: { from: 'stdin' }, env: 'hi' });
  });

  test('invoke prints the error object on stderr and exits 1 when the function throws', () => {
    const res = stratus(['invoke', name, '--payload', '{"fail":true}'], env);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    const error = JSON.parse(res.stderr) as { errorType: string; errorMessage: string; trace: string[] };
    expect(error.errorType).toBe('RangeError');
    expect(error.errorMessage).toBe('asked to fail');
    expect(error.trace.length).toBeGreaterThan(0);
  });

  test('invoke exits 3 with InvalidRequestContent when the payload is not JSON, and no payload still runs', () => {
    // The shell ate the quotes: a common way to send text that is not JSON.
    const res = stratus(['invoke', name, '--payload', '{a:1}'], env);
    expect(res.code).toBe(3);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^error \[InvalidRequestContent\]: the payload is not valid JSON \(.+\): send a JSON document/);
    const async = stratus(['--json', 'invoke', name, '--async', '--payload', 'plain text'], env);
    expect(async.code).toBe(3);
    expect(JSON.parse(async.stderr)).toMatchObject({ error: { code: 'InvalidRequestContent', message: expect.stringMatching(/^the event is not valid JSON/) } });

    const empty = stratus(['invoke', name, '--payload', ''], env);
    expect(empty.code).toBe(0);
    expect(JSON.parse(empty.stdout)).toMatchObject({ env: 'hi' });
  });

  test('invoke --log prints the log tail with START, END and REPORT lines on stderr', () => {
    const res = stratus(['invoke', name, '--payload', '{"b":2}', '--log'], env);
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/^START RequestId: \S+ Version: \$LATEST$/m);
    expect(res.stderr).toMatch(/\tINFO\tgot {"b":2}/);
    expect(res.stderr).toMatch(/^REPORT RequestId: .*\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB/m);
  });

  test('invoke --json prints the whole result when a script asks for it', () => {
    const res = stratus(['--json', 'invoke', name, '--payload', '{"c":3}'], env);
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { requestId: string; payload: unknown; report: { coldStart: boolean } };
    expect(out.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.payload).toEqual({ echo: { c: 3 }, env: 'hi' });
    expect(out.report.coldStart).toBe(false);
  });

  test('ls and get show the function as a table and as JSON', () => {
    const table = stratus(['ls'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`${name}.*nodejs20\\.x.*index\\.handler.*256 MB`));
    const list = JSON.parse(stratus(['ls', '--json'], env).stdout) as Array<{ name: string; memoryMb: number }>;
    expect(list.find((f) => f.name === name)?.memoryMb).toBe(256);
    const got = JSON.parse(stratus(['get', name, '--json'], env).stdout) as { resolvedRuntime: string; environment: Record<string, string> };
    expect(got.resolvedRuntime).toBe('nodejs');
    expect(got.environment).toEqual({ GREETING: 'hi' });
  });

  test('cluster lists the agent with its warm instance', () => {
    const res = JSON.parse(stratus(['cluster', '--json'], env).stdout) as { agents: Array<{ agentId: string; functions: Array<{ functionName: string }> }> };
    expect(res.agents).toHaveLength(1);
    expect(res.agents[0]!.functions.map((f) => f.functionName)).toContain(name);
  });

  test('errors carry their code and exit 2 when the function is unknown, the token is wrong or the router is down', async () => {
    const unknown = stratus(['invoke', 'no-such-function'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error \[FunctionNotFound\]: function 'no-such-function' does not exist: deploy it first/);

    const badToken = stratus(['ls'], { ...env, STRATUS_TOKEN: 'wrong' });
    expect(badToken.code).toBe(2);
    expect(badToken.stderr).toContain('[Unauthenticated]');

    const closed = await freePort();
    const down = stratus(['ls'], { ...env, STRATUS_ENDPOINT: `127.0.0.1:${closed}` });
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('[ServiceUnavailable]');
    expect(down.stderr).toContain(`127.0.0.1:${closed}`);

    const json = stratus(['--json', 'get', 'no-such-function'], env);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'FunctionNotFound' } });
  });

  test('deploy refuses with a usage error when a new function has no runtime', () => {
    const res = stratus(['deploy', uniqueName('noruntime'), functionDir({ 'index.js': 'exports.handler = async () => 1;' })], env);
    expect(res.code).toBe(3);
    expect(res.stderr).toContain('--runtime');
  });

  test('rm deletes the function and invoke then says it is not found', () => {
    expect(stratus(['rm', name], env).code).toBe(0);
    expect(stratus(['invoke', name], env).stderr).toContain('[FunctionNotFound]');
  });

  test('invoke --async prints the request id and dlq ls, show and purge handle the dead letter when the function fails for good', async () => {
    const failing = uniqueName('cli-async');
    const dir = functionDir({ 'index.js': "exports.handler = async () => { throw new Error('always'); };" });
    expect(stratus(['deploy', failing, dir, '--runtime', 'nodejs', '--handler', 'index.handler', '--max-retries', '0'], env).code).toBe(0);
    const accepted = stratus(['invoke', failing, '--async', '--payload', '{"k":1}', '--request-id', 'cli-req-1'], env);
    expect(accepted.code).toBe(0);
    expect(accepted.stdout.trim()).toBe('cli-req-1');
    expect(stratus(['invoke', failing, '--async', '--payload', '{"k":1}', '--request-id', 'cli-req-1'], env).stdout).toContain('already accepted');

    let letters: Array<{ sequence: number; requestId: string; condition: string }> = [];
    await waitFor('the dead letter', () => {
      letters = JSON.parse(stratus(['dlq', 'ls', failing, '--json'], env).stdout) as typeof letters;
      return letters.length === 1;
    }, 20_000, 200);
    expect(letters[0]).toMatchObject({ requestId: 'cli-req-1', condition: 'RetriesExhausted' });
    const table = stratus(['dlq', 'ls', failing], env).stdout;
    expect(table).toMatch(/RetriesExhausted.*Error: always/);
    const record = JSON.parse(stratus(['dlq', 'show', failing, String(letters[0]!.sequence)], env).stdout) as { requestPayload: unknown; responsePayload: { errorMessage: string } };
    expect(record.requestPayload).toEqual({ k: 1 });
    expect(record.responsePayload.errorMessage).toBe('always');
    expect(stratus(['dlq', 'purge', failing], env).stdout).toContain('purged 1');
    expect(stratus(['dlq', 'ls', failing, '--json'], env).stdout.trim()).toBe('[]');
  });

  test('commands fail with ServiceUnavailable naming NATS when the router cannot reach NATS', async () => {
    await cluster.nats.stop();
    const res = stratus(['ls'], env);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^error \[ServiceUnavailable\]: listing functions failed: NATS did not answer .*check that nats-server is running/);
  });
});

describe('stratus dev', () => {
  test('dev runs a cluster, deploys the example and writes a profile the other commands use when started with --example', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'stratus-dev-'));
    const config = path.join(dataDir, 'config.json');
    const [natsPort, grpcPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dataDir, STRATUS_CONFIG: config };
    const dev = spawn(
      process.execPath,
      [CLI, 'dev', '--data-dir', dataDir, '--nats-port', String(natsPort), '--grpc-port', String(grpcPort), '--http-port', String(httpPort), '--example', path.join(ROOT, 'examples', 'hello')],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    dev.stdout.on('data', (c: Buffer) => (output += c.toString()));
    dev.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => dev.once('exit', (code) => resolve(code)));
    try {
      await waitFor('stratus dev to be ready', () => output.includes('ready'), 45_000, 100);
      expect(output).toContain("invoked 'hello' → {\"message\":\"Hello, Stratus!\"");
      const res = stratus(['invoke', 'hello', '--payload', '{"name":"Ada"}'], { HOME: dataDir, STRATUS_CONFIG: config });
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout)).toMatchObject({ message: 'Hello, Ada!', invocationsOnThisInstance: 2 });
    } finally {
      dev.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(output).toContain('stopping');
  }, 90_000);
});

/** Starts `stratus dev` with `flags` on free ports; resolves once it says ready. */
async function startDev(flags: string[]): Promise<{ dataDir: string; config: string; output: () => string; stop(): Promise<number | null> }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'stratus-dev-'));
  const config = path.join(dataDir, 'config.json');
  const [natsPort, grpcPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dataDir, STRATUS_CONFIG: config };
  const dev = spawn(process.execPath, [CLI, 'dev', '--data-dir', dataDir, '--nats-port', String(natsPort), '--grpc-port', String(grpcPort), '--http-port', String(httpPort), ...flags], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  dev.stdout.on('data', (c: Buffer) => (output += c.toString()));
  dev.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => dev.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<number | null> => {
    dev.kill('SIGINT');
    return exited;
  };
  try {
    await waitFor('stratus dev to be ready', () => output.includes('ready —') || dev.exitCode !== null, 60_000, 100);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}: ${output}`);
  }
  if (dev.exitCode !== null) throw new Error(`stratus dev exited: ${output}`);
  return { dataDir, config, output: () => output, stop };
}

/** Records the server errors (permission violations) a NATS connection gets. */
function serverErrors(nc: NatsConnection): string[] {
  const errors: string[] = [];
  (async () => {
    for await (const s of nc.status()) if (s.type === 'error') errors.push(s.error.message);
  })().catch((err: unknown) => errors.push(`status stream failed: ${String(err)}`));
  return errors;
}

describe('stratus dev --tls: TLS on every hop and NATS with production users', () => {
  test('the profile carries the CA and the client user; NATS refuses anonymous and Stratus subjects; a plain NATS client drives a trigger; functions see no credentials', async () => {
    const dev = await startDev(['--tls', '--example', path.join(ROOT, 'examples', 'hello')]);
    let client: StratusClient | undefined;
    const connections: NatsConnection[] = [];
    try {
      const file = JSON.parse(readFileSync(dev.config, 'utf8')) as { profiles: Record<string, Profile> };
      const profile = file.profiles.default as Required<Profile>;
      expect(profile.caFile).toBe(path.join(dev.dataDir, 'tls', 'ca.pem'));
      expect(profile.nats).toMatchObject({ user: 'stratus-client', caFile: profile.caFile });
      // What stratus dev prints for plain NATS clients: the client user's URL, never the router's or agent's password.
      const creds = JSON.parse(readFileSync(path.join(dev.dataDir, 'credentials.json'), 'utf8')) as { nats: Record<string, string>; clusterToken: string };
      expect(dev.output()).toContain(`nats://stratus-client:${profile.nats.password}@127.0.0.1:`);
      expect(dev.output()).not.toContain(creds.nats.NATS_ROUTER_PASSWORD);
      expect(dev.output()).not.toContain(creds.nats.NATS_AGENT_PASSWORD);

      // The CLI reads endpoint, token and CA from the profile: TLS with no flags.
      const cli = stratus(['invoke', 'hello', '--payload', '{"name":"TLS"}'], { HOME: dev.dataDir, STRATUS_CONFIG: dev.config });
      expect(cli.stderr).toBe('');
      expect(JSON.parse(cli.stdout)).toMatchObject({ message: 'Hello, TLS!' });

      const tls = { caFile: profile.caFile };
      await expect(connect({ servers: profile.nats.url, tls, timeout: 3000, reconnect: false })).rejects.toThrow(/authoriz/i);
      await expect(connect({ servers: profile.nats.url, timeout: 3000, reconnect: false, user: profile.nats.user, pass: profile.nats.password, tls: null })).rejects.toThrow();

      client = new StratusClient({ endpoints: profile.endpoint, token: profile.token, tls });
      const name = uniqueName('dev-trigger');
      const done = `obs.${name}.ok`;
      await client.deploy({
        name,
        source: functionDir({ 'index.js': 'exports.handler = async (event) => ({ got: event.data, env: process.env });' }),
        settings: { runtime: 'nodejs', handler: 'index.handler', async: { onSuccess: { kind: 'subject', target: done } } },
      });
      const subject = `orders.${process.pid}.created`;
      await client.createTrigger(name, `orders.${process.pid}.*`);
      // An operator's stream keeps the destination records (made as the admin user: clients may not touch JetStream).
      const admin = await connect({ servers: profile.nats.url, tls, user: 'stratus-admin', pass: creds.nats.NATS_ADMIN_PASSWORD ?? '' });
      connections.push(admin);
      await (await jetstreamManager(admin)).streams.add({ name: `DEV_DONE_${process.pid}`, subjects: [done] });

      const nc = await connect({ servers: profile.nats.url, tls, user: profile.nats.user, pass: profile.nats.password });
      connections.push(nc);
      const errors = serverErrors(nc);
      const records = nc.subscribe(done, { max: 1 });
      nc.publish(subject, JSON.stringify({ order: 7 }));
      let record = '';
      const timer = setTimeout(() => records.unsubscribe(), 30_000);
      for await (const m of records) record = m.string();
      clearTimeout(timer);
      const result = (JSON.parse(record) as { responsePayload: { got: unknown; env: Record<string, string> } }).responsePayload;
      expect(result.got).toEqual({ order: 7 });
      // The function's environment holds no NATS user, password or cluster secret.
      const seen = JSON.stringify(result.env);
      for (const secret of [...Object.values(creds.nats), profile.token, creds.clusterToken]) expect(seen).not.toContain(secret);
      expect(Object.keys(result.env).filter((k) => /NATS|STRATUS_(CLUSTER|API)_TOKEN|PASSWORD/.test(k))).toEqual([]);

      // The client user may not publish or listen on Stratus' own subjects or JetStream's API.
      for (const forbidden of ['stratus.async.x', '$JS.API.INFO']) {
        const before = errors.length;
        nc.publish(forbidden, 'x');
        await nc.flush();
        await waitFor(`a permissions violation for ${forbidden}`, () => errors.slice(before).some((e) => /permissions violation/i.test(e)), 5000, 50);
      }
      const before = errors.length;
      nc.subscribe('stratus.>');
      await nc.flush();
      await waitFor('a permissions violation for subscribing to stratus.>', () => errors.slice(before).some((e) => /permissions violation/i.test(e)), 5000, 50);
    } finally {
      client?.close();
      await Promise.all(connections.map((c) => c.close()));
      expect(await dev.stop()).toBe(0);
    }
  }, 120_000);
});
