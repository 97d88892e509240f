/**
 * Keeps deploy/ honest where no container engine or Kubernetes is at hand: every YAML parses, the
 * manifests have what a cluster needs, every STRATUS_* variable is one the program it configures
 * reads, the systemd units verify, and the NATS configurations start for real as three-node
 * JetStream clusters whose users can do what Stratus needs and no more.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { parseAllDocuments } from 'yaml';
import { chooseReplicas } from '../../sdk/platform/replicas';
import { natsPasswords, runNats, stageNatsNode, waitForNatsHealthy, type RunningNats } from '../helpers/nats-cluster';
import { functionDir, uniqueName } from '../helpers/cluster';
import { freePort, waitFor } from '../helpers/ports';
import { ROOT, startAgent, startRouter, type StratusProcess } from '../helpers/stratus-process';
import { StratusClient } from '../../sdk/client/stratus-client';

const DEPLOY = path.join(ROOT, 'deploy');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

const deployFiles = filesUnder(DEPLOY);
const rel = (file: string): string => path.relative(ROOT, file);

/** Every document of a YAML file, parsed with merge keys (compose uses them); parse errors throw. */
function yamlDocs(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { merge: true });
  return docs.map((d) => {
    if (d.errors.length > 0) throw new Error(`${rel(file)}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS();
  });
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The STRATUS_* variables a program reads through the env helpers (in its one `...OptionsFromEnv`): its whole configuration surface. */
function variablesRead(main: string): Set<string> {
  const text = readFileSync(path.join(ROOT, main), 'utf8');
  return new Set([...text.matchAll(/env(?:String|Number|List|Bool)\(env, '(STRATUS_[A-Z0-9_]+)'\)/g)].map((m) => m[1] as string));
}
// Both programs also read the variables of sdk/platform/env.ts's shared readers (NATS TLS).
const SHARED_VARS = [...variablesRead('sdk/platform/env.ts')];
const ROUTER_VARS = new Set([...variablesRead('router/router-options.ts'), ...SHARED_VARS]);
const AGENT_VARS = new Set([...variablesRead('node-agent/agent-options.ts'), ...SHARED_VARS]);

/** STRATUS_* names in a text, leaving out Stratus' stream names (STRATUS_ASYNC, STRATUS_DLQ, STRATUS_EVENTS). */
function variablesIn(text: string): string[] {
  const streams = new Set(['STRATUS_ASYNC', 'STRATUS_DLQ', 'STRATUS_EVENTS']);
  return [...new Set([...text.matchAll(/\bSTRATUS_[A-Z][A-Z0-9_]*\b/g)].map((m) => m[0]))].filter((v) => !streams.has(v));
}

/** Which program a deploy file (or a part of one) configures, from its name. */
function programOf(name: string): 'router' | 'agent' | undefined {
  if (/router/.test(name)) return 'router';
  if (/agent/.test(name)) return 'agent';
  return undefined;
}

function expectReadBy(vars: string[], program: 'router' | 'agent' | undefined, where: string): void {
  const known = program === 'router' ? ROUTER_VARS : program === 'agent' ? AGENT_VARS : new Set([...ROUTER_VARS, ...AGENT_VARS]);
  const unknown = vars.filter((v) => !known.has(v));
  expect({ where, unknown }).toEqual({ where, unknown: [] });
}

describe('deploy files', () => {
  test('every YAML file under deploy/ parses when read with merge keys', () => {
    const yamls = deployFiles.filter((f) => /\.ya?ml$/.test(f));
    expect(yamls.length).toBeGreaterThanOrEqual(7);
    for (const f of yamls) expect(yamlDocs(f).length).toBeGreaterThan(0);
  });

  test('Kubernetes manifests have apiVersion, kind and metadata, and workloads have containers with images and env when parsed', () => {
    const manifests = deployFiles.filter((f) => f.includes(`${path.sep}k8s${path.sep}`) && f.endsWith('.yaml'));
    const kinds: string[] = [];
    for (const file of manifests) {
      for (const doc of yamlDocs(file)) {
        expect(isObj(doc)).toBe(true);
        const d = doc as Obj;
        expect({ file: rel(file), apiVersion: typeof d.apiVersion, kind: typeof d.kind, name: typeof (d.metadata as Obj | undefined)?.name }).toEqual({
          file: rel(file),
          apiVersion: 'string',
          kind: 'string',
          name: 'string',
        });
        kinds.push(d.kind as string);
        if (!['Deployment', 'StatefulSet', 'DaemonSet'].includes(d.kind as string)) continue;
        const spec = d.spec as Obj;
        const template = spec.template as Obj;
        const podLabels = (template.metadata as Obj).labels as Obj;
        // The selector must pick the template's own pods.
        for (const [k, v] of Object.entries((spec.selector as Obj).matchLabels as Obj)) expect(podLabels[k]).toBe(v);
        const containers = (template.spec as Obj).containers as Obj[];
        expect(containers.length).toBeGreaterThan(0);
        for (const c of containers) {
          expect(typeof c.image).toBe('string');
          expect(Array.isArray(c.env) || Array.isArray(c.envFrom)).toBe(true);
          // Every $(VAR) a value refers to is defined earlier in the list, or Kubernetes leaves it as text.
          const defined = new Set<string>();
          for (const e of (c.env as Obj[] | undefined) ?? []) {
            for (const m of String(e.value ?? '').matchAll(/\$\(([A-Z_]+)\)/g)) expect({ name: e.name, ref: m[1], defined: defined.has(m[1] as string) }).toEqual({ name: e.name, ref: m[1], defined: true });
            defined.add(e.name as string);
          }
        }
      }
    }
    expect(kinds).toEqual(expect.arrayContaining(['Namespace', 'StatefulSet', 'Deployment', 'DaemonSet', 'Service', 'Secret']));
  });

  test('Kubernetes Services select the pods of a workload and name ports the pods expose when parsed', () => {
    const docs = deployFiles.filter((f) => f.includes(`${path.sep}k8s${path.sep}`) && f.endsWith('.yaml')).flatMap(yamlDocs) as Obj[];
    const pods = docs
      .filter((d) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(d.kind as string))
      .map((d) => {
        const t = (d.spec as Obj).template as Obj;
        const ports = ((t.spec as Obj).containers as Obj[]).flatMap((c) => ((c.ports as Obj[] | undefined) ?? []).map((p) => p.name as string));
        return { labels: (t.metadata as Obj).labels as Obj, ports };
      });
    for (const svc of docs.filter((d) => d.kind === 'Service')) {
      const spec = svc.spec as Obj;
      const target = pods.find((p) => Object.entries(spec.selector as Obj).every(([k, v]) => p.labels[k] === v));
      expect({ service: (svc.metadata as Obj).name, selects: target !== undefined }).toEqual({ service: (svc.metadata as Obj).name, selects: true });
      for (const port of spec.ports as Obj[]) {
        const t = port.targetPort ?? port.name;
        if (typeof t === 'string') expect(target?.ports).toContain(t);
      }
    }
  });

  test('the kustomization lists resources and ConfigMap files that exist when read', () => {
    const [k] = yamlDocs(path.join(DEPLOY, 'kustomization.yaml')) as Obj[];
    const files = [
      ...((k?.resources as string[]) ?? []),
      ...((k?.configMapGenerator as Obj[]) ?? []).flatMap((g) => (g.files as string[]).map((f) => f.split('=').pop() as string)),
    ];
    expect(files.length).toBeGreaterThan(4);
    for (const f of files) expect({ f, exists: existsSync(path.join(DEPLOY, f)) }).toEqual({ f, exists: true });
    // Every manifest but the example Secrets is applied.
    const manifests = deployFiles.filter((f) => f.includes(`${path.sep}k8s${path.sep}`) && f.endsWith('.yaml') && !f.endsWith('.example.yaml'));
    expect(manifests.map((f) => path.relative(DEPLOY, f)).sort()).toEqual(((k?.resources as string[]) ?? []).slice().sort());
  });

  test('compose services name an image or a build whose Dockerfile exists, and mount files that exist when parsed', () => {
    const file = path.join(DEPLOY, 'docker', 'compose.yaml');
    const [compose] = yamlDocs(file) as Obj[];
    const services = compose?.services as Record<string, Obj>;
    expect(Object.keys(services).sort()).toEqual(['agent-1', 'agent-2', 'nats-1', 'nats-2', 'nats-3', 'router-1', 'router-2']);
    for (const [name, s] of Object.entries(services)) {
      expect(typeof s.image === 'string' || isObj(s.build)).toBe(true);
      if (isObj(s.build)) expect(existsSync(path.join(path.dirname(file), s.build.context as string, s.build.dockerfile as string))).toBe(true);
      for (const v of (s.volumes as string[] | undefined) ?? []) {
        const source = v.split(':')[0] as string;
        if (source.startsWith('.')) expect({ name, source, exists: existsSync(path.join(path.dirname(file), source)) }).toEqual({ name, source, exists: true });
      }
      expectReadBy(variablesIn(JSON.stringify(s.environment ?? {})), programOf(name), `compose service ${name}`);
    }
  });

  test('Dockerfiles copy only paths that exist and start a program that the build produces when read', () => {
    const dockerfiles = deployFiles.filter((f) => f.endsWith('.Dockerfile'));
    expect(dockerfiles.map((f) => path.basename(f)).sort()).toEqual(['agent.Dockerfile', 'router.Dockerfile']);
    for (const file of dockerfiles) {
      const lines = readFileSync(file, 'utf8').split('\n');
      expect(lines.filter((l) => l.startsWith('FROM ')).length).toBeGreaterThanOrEqual(1);
      for (const l of lines.filter((x) => x.startsWith('COPY ') && !x.includes('--from='))) {
        const parts = l.split(/\s+/).slice(1, -1);
        for (const p of parts) expect({ file: rel(file), copies: p, exists: existsSync(path.join(ROOT, p)) }).toEqual({ file: rel(file), copies: p, exists: true });
      }
      const cmd = lines.find((l) => l.startsWith('CMD '));
      const entry = /"dist\/([^"]+)\.js"/.exec(cmd ?? '')?.[1];
      expect(entry && existsSync(path.join(ROOT, `${entry}.ts`))).toBe(true);
      expect(programOf(path.basename(file))).toBe(programOf(entry ?? ''));
      expectReadBy(variablesIn(readFileSync(file, 'utf8')), programOf(path.basename(file)), rel(file));
    }
  });

  test('every STRATUS_* variable in deploy files is one the program it configures reads', () => {
    for (const file of deployFiles) {
      if (file.endsWith('compose.yaml') || file.endsWith('.Dockerfile')) continue; // per service / per image above
      if (file.includes(`${path.sep}local${path.sep}`)) continue; // the dev cluster's own scripts
      const text = readFileSync(file, 'utf8');
      if (file.endsWith('.yaml')) {
        for (const doc of yamlDocs(file) as Obj[]) expectReadBy(variablesIn(JSON.stringify(doc)), programOf(String((doc?.metadata as Obj | undefined)?.name ?? '')), rel(file));
      } else {
        expectReadBy(variablesIn(text), programOf(path.basename(file)), rel(file));
      }
    }
  });

  test('systemd units verify when systemd-analyze is available, else have the sections and keys a unit needs', () => {
    const units = deployFiles.filter((f) => f.endsWith('.service'));
    expect(units.map((f) => path.basename(f)).sort()).toEqual(['stratus-agent.service', 'stratus-router.service']);
    const dropIn = path.join(DEPLOY, 'systemd', 'nats-server.service.d', 'stratus.conf');
    for (const unit of [...units, dropIn]) {
      const text = readFileSync(unit, 'utf8');
      const sections = [...text.matchAll(/^\[(\w+)\]$/gm)].map((m) => m[1]);
      expect(sections).toEqual(unit === dropIn ? ['Service'] : ['Unit', 'Service', 'Install']);
      for (const line of text.split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('['))) expect(line).toMatch(/^[A-Z][A-Za-z]+=/);
      if (unit !== dropIn) expect(text).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/stratus\/dist\/(router|node-agent)\/main\.js$/m);
    }
    const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
    if (analyze.status !== 0) {
      process.stdout.write('systemd-analyze is not available: systemd units checked structurally only\n');
      return;
    }
    // Verified in a scratch unit path: the drop-in is checked against Debian's nats-server.service.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'stratus-units-'));
    try {
      for (const unit of units) writeFileSync(path.join(dir, path.basename(unit)), readFileSync(unit));
      const debian = '/lib/systemd/system/nats-server.service';
      writeFileSync(path.join(dir, 'nats-server.service'), existsSync(debian) ? readFileSync(debian) : '[Unit]\nDescription=NATS Server\n[Service]\nExecStart=/usr/sbin/nats-server -c /etc/nats-server.conf\n[Install]\nWantedBy=multi-user.target\n');
      mkdirSync(path.join(dir, 'nats-server.service.d'));
      writeFileSync(path.join(dir, 'nats-server.service.d', 'stratus.conf'), readFileSync(dropIn));
      for (const unit of ['stratus-router.service', 'stratus-agent.service', 'nats-server.service']) {
        const r = spawnSync('systemd-analyze', ['verify', path.join(dir, unit)], { encoding: 'utf8', env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` } });
        // Only complaints about our files count; the host's own units are not ours to judge.
        const ours = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes(dir));
        expect({ unit, status: r.status, complaints: ours }).toEqual({ unit, status: 0, complaints: [] });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A three-node cluster started from deploy/ configurations on loopback ports. */
interface LoopbackCluster {
  servers: RunningNats[];
  clientUrls: string[];
  dir: string;
  stop(): Promise<void>;
}

const PASSWORDS = natsPasswords(`${process.pid}`);

/**
 * Starts three servers from deploy/ files, changing only what one machine needs: loopback
 * addresses, free ports, a temporary store. `route` gives node i's route host as its file names it.
 */
async function startLoopbackCluster(nodeFile: (i: number) => string, routeHost: (i: number) => string, env: (i: number) => Record<string, string>): Promise<LoopbackCluster> {
  // A port picked free can be taken before nats-server binds it (other tests run on this machine): try again.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startLoopbackClusterOnce(nodeFile, routeHost, env);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test(String(err))) throw err;
    }
  }
}

/** Nine distinct free ports: three per server. */
async function distinctPorts(): Promise<Array<{ client: number; route: number; monitor: number }>> {
  const seen = new Set<number>();
  const next = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!seen.has(p)) {
        seen.add(p);
        return p;
      }
    }
  };
  const ports = [];
  for (let i = 0; i < 3; i += 1) ports.push({ client: await next(), route: await next(), monitor: await next() });
  return ports;
}

async function startLoopbackClusterOnce(nodeFile: (i: number) => string, routeHost: (i: number) => string, env: (i: number) => Record<string, string>): Promise<LoopbackCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stratus-deploy-nats-'));
  const ports = await distinctPorts();
  const routes = ports.map((p, i) => ({ from: `${routeHost(i)}:6222`, to: `127.0.0.1:${p.route}` }));
  const servers: RunningNats[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i += 1) {
      const p = ports[i]!;
      const staged = stageNatsNode(dir, {
        name: `node-${i}`,
        file: nodeFile(i),
        replacements: [{ from: 'listen: 0.0.0.0:6222', to: `listen: 127.0.0.1:${p.route}` }, ...routes],
        commonReplacements: [
          { from: 'port: 4222', to: `host: 127.0.0.1\nport: ${p.client}` },
          { from: 'http_port: 8222', to: `http: 127.0.0.1:${p.monitor}` },
        ],
      });
      servers.push(await runNats(staged, { env: { ...PASSWORDS, ...env(i) } }));
    }
    await waitForNatsHealthy(servers.map((running, i) => ({ running, healthzUrl: `http://127.0.0.1:${ports[i]!.monitor}/healthz` })));
  } catch (err) {
    await stop();
    throw err;
  }
  return { servers, clientUrls: ports.map((p) => `nats://127.0.0.1:${p.client}`), dir, stop };
}

/** Connects as one of stratus-common.conf's users and records the server errors (permission violations) it gets. */
async function connectAs(urls: string[], user: 'router' | 'agent' | 'client' | 'admin'): Promise<{ nc: NatsConnection; errors: string[] }> {
  const key = `NATS_${user.toUpperCase()}_PASSWORD` as keyof typeof PASSWORDS;
  const nc = await connect({ servers: urls, user: `stratus-${user}`, pass: PASSWORDS[key], timeout: 5000 });
  const errors: string[] = [];
  (async () => {
    for await (const s of nc.status()) if (s.type === 'error') errors.push(s.error.message);
  })().catch((err: unknown) => errors.push(`status stream failed: ${String(err)}`));
  return { nc, errors };
}

/** Publishes and flushes; resolves with the permission violation the server answered with, if any. */
async function publishViolation(c: { nc: NatsConnection; errors: string[] }, subject: string): Promise<boolean> {
  const before = c.errors.length;
  c.nc.publish(subject, 'x');
  await c.nc.flush();
  await new Promise((r) => setTimeout(r, 100));
  return c.errors.slice(before).some((e) => /permissions violation/i.test(e) && e.includes(subject));
}

describe('NATS cluster configuration', () => {
  let cluster: LoopbackCluster;
  beforeAll(async () => {
    cluster = await startLoopbackCluster((i) => `nats/nats-${i + 1}.conf`, (i) => `nats-${i + 1}`, () => ({}));
  }, 60_000);
  afterAll(async () => cluster?.stop());

  test('the three deploy/nats servers form a JetStream cluster that Stratus gives 3 replicas when started', async () => {
    const admin = await connectAs(cluster.clientUrls, 'admin');
    try {
      expect(admin.nc.info?.cluster).toBe('stratus');
      const choice = await chooseReplicas(admin.nc, { configured: undefined });
      expect(choice).toMatchObject({ replicas: 3, source: 'detected', cluster: 'stratus' });
      expect(choice.servers).toHaveLength(3);
      const jsm = await jetstreamManager(admin.nc);
      const name = `DEPLOY_PROBE_${process.pid}`;
      const si = await jsm.streams.add({ name, subjects: [`deploy.probe.${process.pid}`], num_replicas: 3, storage: StorageType.File, retention: RetentionPolicy.Limits });
      expect(si.config.num_replicas).toBe(3);
      await waitFor('the probe stream to have three current peers', async () => {
        const info = await jsm.streams.info(name);
        return info.cluster?.leader !== undefined && (info.cluster.replicas ?? []).filter((r) => r.current).length === 2;
      }, 15_000, 100);
      await jsm.streams.delete(name);
    } finally {
      await admin.nc.close();
    }
  });

  test('each NATS user gets only the subjects its role needs when it connects', async () => {
    const agent = await connectAs(cluster.clientUrls, 'agent');
    const client = await connectAs(cluster.clientUrls, 'client');
    const router = await connectAs(cluster.clientUrls, 'router');
    try {
      // Agents: heartbeats yes; async events, KV, other streams and other programs' subjects no.
      expect(await publishViolation(agent, 'stratus.agents.heartbeat')).toBe(false);
      expect(await publishViolation(agent, 'stratus.async.fn')).toBe(true);
      expect(await publishViolation(agent, '$KV.stratus_functions.fn.x.latest')).toBe(true);
      expect(await publishViolation(agent, '$JS.API.STREAM.DELETE.STRATUS_ASYNC')).toBe(true);
      expect(await publishViolation(agent, 'stratus.routers.heartbeat')).toBe(true);
      expect(await publishViolation(agent, 'orders.created')).toBe(true);
      // Users' clients: their own events yes; Stratus' subjects and JetStream API no.
      expect(await publishViolation(client, 'orders.created')).toBe(false);
      expect(await publishViolation(client, 'stratus.async.fn')).toBe(true);
      expect(await publishViolation(client, 'stratus.agents.heartbeat')).toBe(true);
      expect(await publishViolation(client, '$JS.API.INFO')).toBe(true);
      expect(await publishViolation(client, '$KV.stratus_functions.fn.x.latest')).toBe(true);
      // Routers: everything Stratus keeps, users' event subjects, but not the system account.
      expect(await publishViolation(router, 'stratus.async.fn')).toBe(false);
      expect(await publishViolation(router, 'orders.created')).toBe(false);
      expect(await publishViolation(router, '$SYS.REQ.SERVER.PING')).toBe(true);
      // Subscriptions: an agent cannot listen to heartbeats or events; a client cannot watch Stratus.
      const subViolation = async (c: { nc: NatsConnection; errors: string[] }, subject: string): Promise<boolean> => {
        const before = c.errors.length;
        const sub = c.nc.subscribe(subject);
        await c.nc.flush();
        await new Promise((r) => setTimeout(r, 100));
        sub.unsubscribe();
        return c.errors.slice(before).some((e) => /permissions violation/i.test(e));
      };
      expect(await subViolation(agent, 'stratus.agents.>')).toBe(true);
      expect(await subViolation(client, 'stratus.async.>')).toBe(true);
      expect(await subViolation(router, 'stratus.agents.>')).toBe(false);
    } finally {
      await Promise.all([agent.nc.close(), client.nc.close(), router.nc.close()]);
    }
  });

  test('a router and an agent with their own NATS users serve sync and async invocations when run against the cluster', async () => {
    const natsUrl = cluster.clientUrls.join(',');
    const logDir = path.join(cluster.dir, 'logs');
    mkdirSync(logDir);
    const apiToken = `api-${process.pid}`;
    const clusterToken = `cluster-${process.pid}`;
    const started: StratusProcess[] = [];
    const admin = await connectAs(cluster.clientUrls, 'admin');
    try {
      started.push(await startRouter('deploy-router', { natsUrl, apiToken, clusterToken, logDir, env: { STRATUS_NATS_USER: 'stratus-router', STRATUS_NATS_PASSWORD: PASSWORDS.NATS_ROUTER_PASSWORD } }));
      started.push(await startAgent('deploy-agent', { natsUrl, clusterToken, logDir, env: { STRATUS_NATS_USER: 'stratus-agent', STRATUS_NATS_PASSWORD: PASSWORDS.NATS_AGENT_PASSWORD } }));
      const router = started[0]!;
      const c = new StratusClient({ endpoints: [router.address], token: apiToken });
      try {
        await waitFor('the router to see the agent', async () => (await c.getCluster()).agents.length === 1, 20_000, 100);
        const view = await c.getCluster();
        expect(view.replicas).toBe(3);
        expect(view.routers.map((r) => r.routerId)).toEqual(['deploy-router']);

        // Async records land on a subject an operator's stream captures (made with the admin user).
        const done = `deploy.done.${process.pid}`;
        const jsm = await jetstreamManager(admin.nc);
        await jsm.streams.add({ name: `DEPLOY_DONE_${process.pid}`, subjects: [done], num_replicas: 3, storage: StorageType.File });
        const name = uniqueName('deploy');
        const source = functionDir({ 'index.js': 'exports.handler = async (e) => ({ echo: e });' });
        await c.deploy({ name, source, settings: { runtime: 'nodejs', handler: 'index.handler', async: { onSuccess: { kind: 'subject', target: done } } } });
        rmSync(source, { recursive: true, force: true });
        const r = await c.invoke(name, JSON.stringify({ n: 1 }), { timeoutMs: 20_000 });
        expect(r.functionError).toBeUndefined();
        expect(JSON.parse(r.payload.toString())).toEqual({ echo: { n: 1 } });
        const { requestId } = await c.invokeAsync(name, JSON.stringify({ n: 2 }));
        await waitFor('the async success record', async () => (await jsm.streams.info(`DEPLOY_DONE_${process.pid}`)).state.messages === 1, 20_000, 100);
        const rec = await (await jsm.streams.getMessage(`DEPLOY_DONE_${process.pid}`, { seq: 1 }))?.json<{ requestContext: { requestId: string } }>();
        expect(rec?.requestContext.requestId).toBe(requestId);
        // Every bucket and stream the router made is replicated three times.
        for await (const si of jsm.streams.list()) if (/^(KV_stratus_|OBJ_stratus_|STRATUS_)/.test(si.config.name)) expect({ stream: si.config.name, replicas: si.config.num_replicas }).toEqual({ stream: si.config.name, replicas: 3 });
      } finally {
        c.close();
      }
      for (const p of started) {
        const log = readFileSync(p.logFile, 'utf8');
        expect({ program: p.name, violations: log.split('\n').filter((l) => /permissions violation/i.test(l)) }).toEqual({ program: p.name, violations: [] });
        expect(log).toContain('replicas 3 for Stratus streams');
      }
    } finally {
      await Promise.all(started.map((p) => p.stop(10_000)));
      for (const p of started) if (p.env.STRATUS_DATA_DIR) rmSync(p.env.STRATUS_DATA_DIR, { recursive: true, force: true });
      await admin.nc.close();
    }
  }, 90_000);
});

describe('Kubernetes NATS configuration', () => {
  test('the StatefulSet configuration forms a three-server JetStream cluster when started as pods nats-0..2', async () => {
    const cluster = await startLoopbackCluster(
      () => 'k8s/nats.conf',
      (i) => `nats-${i}.nats.stratus.svc.cluster.local`,
      (i) => ({ POD_NAME: `nats-${i}` }),
    );
    try {
      const admin = await connectAs(cluster.clientUrls, 'admin');
      try {
        expect((await chooseReplicas(admin.nc, { configured: undefined })).replicas).toBe(3);
        expect(admin.nc.info?.server_name).toMatch(/^nats-[0-2]$/);
      } finally {
        await admin.nc.close();
      }
    } finally {
      await cluster.stop();
    }
  }, 60_000);
});
