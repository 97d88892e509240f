import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { StratusClient } from '../../sdk/client/stratus-client';
import type { StratusError } from '../../sdk/core/errors';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { waitFor } from '../helpers/ports';
import { distEntry } from '../helpers/stratus-process';

// Two tenants on one cluster, with real tokens, real routers, agents and sandboxes: what each may see,
// invoke and change; grants by resource policy; execution roles used from inside functions (the
// Stratus SDK through the invocation's credentials); dry runs; the recursion guard.

const CLI = distEntry('sdk/cli/main.js');

/** The error a call fails with (fails the test if it succeeds). */
async function failure(call: Promise<unknown>): Promise<StratusError> {
  try {
    await call;
  } catch (err) {
    return err as StratusError;
  }
  throw new Error('the call succeeded; it should have been refused');
}

async function denied(call: Promise<unknown>, mentioning: string): Promise<void> {
  const err = await failure(call);
  expect(err.code).toBe('AccessDenied');
  expect(err.message).toContain(mentioning);
}

const SINK = `exports.handler = async (event) => { throw new Error('sink ' + JSON.stringify(event.data ?? event)); };`;

// Calls the Stratus API from inside the function with the invocation's role credentials.
const CALLER = `
const { StratusClient } = require('stratus');
let client;
exports.handler = async (event) => {
  client ??= StratusClient.fromFunctionEnvironment();
  try {
    if (event.publish) {
      await client.publish(event.publish.subject, JSON.stringify(event.publish.data));
      return { ok: true };
    }
    const r = await client.invoke(event.target, JSON.stringify({ from: process.env.AWS_LAMBDA_FUNCTION_NAME }));
    return { ok: true, payload: JSON.parse(r.payload.toString()) };
  } catch (e) {
    return { ok: false, code: e.code, message: e.message };
  }
};`;

// Each event it gets from its trigger, it publishes again with the count raised: an endless loop but for the guard.
const LOOPER = `
const { StratusClient } = require('stratus');
let client;
exports.handler = async (event) => {
  client ??= StratusClient.fromFunctionEnvironment();
  const n = (event.data && event.data.n) || 0;
  await client.publish(event.subject, JSON.stringify({ n: n + 1 }));
  return { n };
};`;

describe('tenants, permissions and roles', () => {
  let cluster: TestCluster;
  let admin: StratusClient;
  let alice: StratusClient;
  let bob: StratusClient;
  let aliceToken: string;
  let bobToken: string;
  const aFn = uniqueName('a-fn');
  const bFn = uniqueName('b-fn');
  const aSink = uniqueName('a-sink');
  const tenantA = `ta${process.pid}`;
  const tenantB = `tb${process.pid}`;

  beforeAll(async () => {
    cluster = await startCluster({ agents: 0 });
    // Functions reach the router's API through a port of their sandbox's loopback.
    const port = cluster.routers[0]!.address.split(':')[1]!;
    await cluster.addAgent('agent-1', { STRATUS_FUNCTION_API_ENDPOINT: `127.0.0.1:${port}`, STRATUS_SANDBOX_ALLOW_HOST_PORTS: port });
    await cluster.waitForAgents(1);
    admin = cluster.client();
    aliceToken = (await admin.auth.createToken({ tenant: tenantA, principal: 'alice' })).token;
    bobToken = (await admin.auth.createToken({ tenant: tenantB, principal: 'bob' })).token;
    alice = cluster.client({ token: aliceToken });
    bob = cluster.client({ token: bobToken });
    await alice.deploy({ name: aFn, source: functionDir({ 'index.js': 'exports.handler = async (e) => ({ tenant: "a", got: e });' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    await bob.deploy({ name: bFn, source: functionDir({ 'index.js': 'exports.handler = async (e) => ({ tenant: "b", got: e });' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    await alice.deploy({ name: aSink, source: functionDir({ 'index.js': SINK }), settings: { runtime: 'nodejs', handler: 'index.handler', async: { maxRetryAttempts: 0 } } });
  }, 120_000);
  afterAll(async () => cluster?.stop());

  test('a token knows its tenant and principal; tokens are listed by id and never shown again', async () => {
    expect(await alice.auth.whoAmI()).toMatchObject({ kind: 'user', tenant: tenantA, name: 'alice', admin: false, scopes: ['*'] });
    expect(await admin.auth.whoAmI()).toMatchObject({ tenant: 'default', name: 'admin', admin: true });
    const listed = await alice.auth.listTokens();
    expect(listed.map((t) => t.principal)).toEqual(['alice']);
    expect(JSON.stringify(listed)).not.toContain(aliceToken.split('_')[2]);
    // A tenant cannot see another's tokens or mint administrator tokens.
    await denied(alice.auth.listTokens(tenantB), `tenant ${tenantB}`);
    await denied(alice.auth.createToken({ principal: 'mallory', admin: true }), 'administrator');
    await denied(alice.auth.createToken({ tenant: tenantB, principal: 'mallory' }), tenantB);
  });

  test('neither tenant sees, invokes, changes or deletes the other\'s functions; an administrator sees both', async () => {
    expect((await alice.listFunctions()).map((f) => f.config.name)).toEqual(expect.arrayContaining([aFn, aSink]));
    expect((await alice.listFunctions()).map((f) => f.config.name)).not.toContain(bFn);
    expect((await bob.listFunctions()).map((f) => f.config.name)).toEqual([bFn]);
    expect((await admin.listFunctions()).map((f) => f.config.name)).toEqual(expect.arrayContaining([aFn, bFn]));
    expect((await admin.getFunction(aFn)).tenant).toBe(tenantA);
    await denied(bob.getFunction(aFn), 'function:read');
    await denied(bob.invoke(aFn, '{}'), 'function:invoke');
    await denied(bob.invokeAsync(aFn, '{}'), 'function:invoke');
    await denied(bob.invoke(aFn, undefined, { dryRun: true }), 'function:invoke');
    await denied(bob.updateFunctionConfiguration(aFn, { memoryMb: 256 }), 'function:write');
    await denied(bob.deleteFunction(aFn), 'function:write');
    await denied(bob.listDeadLetters(aFn), 'function:read');
    await denied(bob.auth.getPolicy(aFn), 'function:read');
    // The message says how to get the permission.
    expect((await failure(bob.invoke(aFn, '{}'))).message).toContain(`stratus permissions add ${aFn} --principal ${tenantB}/bob --action function:invoke`);
    expect(JSON.parse((await alice.invoke(aFn, '{"x":1}')).payload.toString())).toEqual({ tenant: 'a', got: { x: 1 } });
    // Names are the cluster's: another tenant cannot take one over.
    expect((await failure(bob.deploy({ name: aFn, source: functionDir({ 'index.js': 'exports.handler = async () => 1;' }), settings: { runtime: 'nodejs', handler: 'index.handler' } }))).code).toMatch(/AccessDenied|FunctionAlreadyExists/);
    expect(JSON.parse((await alice.invoke(aFn, '{}')).payload.toString()).tenant).toBe('a');
  });

  test('a principal granted by the function\'s policy may invoke it, and a dry run checks it without running anything', async () => {
    await denied(bob.invoke(aFn, undefined, { dryRun: true }), 'function:invoke');
    await alice.auth.addPermission(aFn, { sid: 'bob-invokes', actions: ['lambda:InvokeFunction'], principal: `${tenantB}/bob` });
    expect((await alice.auth.getPolicy(aFn)).statements).toEqual([{ sid: 'bob-invokes', actions: ['function:invoke'], principal: `${tenantB}/bob`, source: undefined, sourceTenant: undefined }]);
    await waitFor('the grant to reach the router', async () => (await bob.invoke(aFn, undefined, { dryRun: true }).then(() => true, () => false)), 5000, 50);
    const dry = await bob.invoke(aFn, undefined, { dryRun: true });
    expect(dry.statusCode).toBe(204);
    expect(dry.requestId).toBe('');
    expect(dry.report).toBeUndefined();
    const ran = await bob.invoke(aFn, '{"from":"bob"}');
    expect(ran.statusCode).toBe(200);
    expect(JSON.parse(ran.payload.toString())).toEqual({ tenant: 'a', got: { from: 'bob' } });
    // Invoking is all the grant gives: no reading, changing or deleting, and the function stays out of bob's list.
    await denied(bob.getFunction(aFn), 'function:read');
    await denied(bob.deleteFunction(aFn), 'function:write');
    expect((await bob.listFunctions()).map((f) => f.config.name)).toEqual([bFn]);
    // Only the owner changes the policy; removing the statement takes the grant back.
    await denied(bob.auth.removePermission(aFn, 'bob-invokes'), 'function:write');
    await alice.auth.removePermission(aFn, 'bob-invokes');
    await waitFor('the removal to reach the router', async () => (await bob.invoke(aFn, '{}').then(() => false, (e: StratusError) => e.code === 'AccessDenied')), 5000, 50);
  });

  test('the CLI dry run answers 204 for a caller who may invoke and refuses one who may not', () => {
    const env = (token: string) => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), STRATUS_ENDPOINT: cluster.routers[0]!.address, STRATUS_TOKEN: token });
    const ok = spawnSync(process.execPath, [CLI, 'invoke', aFn, '--dry-run'], { env: env(aliceToken), encoding: 'utf8', timeout: 30_000 });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('204');
    const no = spawnSync(process.execPath, [CLI, 'invoke', aFn, '--dry-run', '--json'], { env: env(bobToken), encoding: 'utf8', timeout: 30_000 });
    expect(no.status).not.toBe(0);
    expect(no.stdout + no.stderr).toContain('AccessDenied');
  });

  test('layers, routes, triggers, schedules, tables, buckets and mappings stay within their tenant', async () => {
    const layer = uniqueName('a-layer');
    await alice.publishLayer(layer, functionDir({ 'nodejs/node_modules/greet/index.js': 'module.exports = () => "hi";' }));
    expect((await alice.listLayers()).map((l) => l.name)).toContain(layer);
    expect((await bob.listLayers()).map((l) => l.name)).not.toContain(layer);
    await denied(bob.getLayerVersion(layer, 1), 'layer:read');
    await denied(bob.publishLayer(layer, functionDir({ 'x.txt': 'x' })), 'layer:write');
    await denied(bob.deleteLayerVersion(layer, 1), 'layer:write');
    await denied(bob.updateFunctionConfiguration(bFn, { layers: [`${layer}:1`] }), 'layer:read');

    const route = await alice.createRoute('GET', `/${aFn}`, aFn, { auth: 'none' });
    expect((await alice.listRoutes()).map((r) => r.id)).toContain(route.id);
    expect((await bob.listRoutes()).map((r) => r.id)).not.toContain(route.id);
    await denied(bob.deleteRoute(route.id), 'another tenant');
    await denied(bob.createRoute('GET', `/${aFn}`, bFn, { auth: 'none' }), 'another tenant');
    await denied(bob.createRoute('GET', `/bob-to-${aFn}`, aFn, { auth: 'none' }), 'function:invoke');
    await denied(bob.putFunctionUrl(aFn), 'function:write');

    const trigger = await alice.createTrigger(aFn, `${tenantA}.orders.*`);
    expect((await alice.listTriggers()).map((t) => t.id)).toContain(trigger.id);
    expect((await bob.listTriggers()).map((t) => t.id)).not.toContain(trigger.id);
    await denied(bob.deleteTrigger(trigger.id), 'another tenant');
    const schedule = await alice.createSchedule(aFn, 'rate(1 hour)');
    expect((await bob.listSchedules()).map((s) => s.id)).not.toContain(schedule.id);
    await denied(bob.deleteSchedule(schedule.id), 'another tenant');
    await denied(bob.createSchedule(aFn, 'rate(1 hour)'), 'function:invoke');

    const table = uniqueName('a-table');
    await alice.tables.create(table);
    await alice.tables.put(table, 'k', '{"v":1}');
    expect((await alice.tables.list()).map((t) => t.name)).toContain(table);
    expect((await bob.tables.list()).map((t) => t.name)).not.toContain(table);
    await denied(bob.tables.get(table, 'k'), 'table:read');
    await denied(bob.tables.put(table, 'k', '{}'), 'table:write');
    await denied(bob.tables.delete(table), 'table:write');
    await denied(bob.tables.create(table), 'another tenant');
    const bucket = uniqueName('a-bucket');
    await alice.buckets.create(bucket);
    expect((await bob.buckets.list()).map((b) => b.name)).not.toContain(bucket);
    await denied(bob.buckets.put(bucket, 'o', 'x'), 'bucket:write');

    const mapping = await alice.mappings.create(aFn, { kind: 'table', name: table, filter: '' });
    expect((await alice.mappings.list()).map((m) => m.id)).toContain(mapping.id);
    expect((await bob.mappings.list()).map((m) => m.id)).not.toContain(mapping.id);
    await denied(bob.mappings.get(mapping.id), 'another tenant');
    await denied(bob.mappings.delete(mapping.id), 'another tenant');
    await denied(bob.mappings.create(bFn, { kind: 'table', name: table, filter: '' }), 'table:read');
    await alice.mappings.delete(mapping.id);

    // The administrator sees every tenant's.
    expect((await admin.listTriggers()).map((t) => t.id)).toContain(trigger.id);
    expect((await admin.tables.list()).map((t) => t.name)).toContain(table);
  });

  test('a policy allowing a subject lets that trigger invoke the function and no other; removing it dead-letters the events as AccessDenied', async () => {
    const allowed = `${tenantB}.orders.*`;
    await denied(bob.createTrigger(aSink, allowed), 'subject');
    await alice.auth.addPermission(aSink, { sid: 'b-orders', actions: ['function:invoke'], principal: 'subject', source: allowed, sourceTenant: tenantB });
    await waitFor('the grant to reach the router', async () => bob.createTrigger(aSink, allowed).then(() => true, () => false), 5000, 100);
    await denied(bob.createTrigger(aSink, `${tenantB}.audit.*`), 'subject');
    await bob.publish(`${tenantB}.orders.created`, JSON.stringify({ order: 1 }));
    // It ran (and failed, as the sink always does): a RetriesExhausted dead letter, visible to its owner only.
    await waitFor('the permitted event to run', async () => (await alice.listDeadLetters(aSink)).deadLetters.some((d) => d.condition === 'RetriesExhausted'), 30_000, 200);
    await alice.auth.removePermission(aSink, 'b-orders');
    await new Promise((r) => setTimeout(r, 300));
    await bob.publish(`${tenantB}.orders.created`, JSON.stringify({ order: 2 }));
    await waitFor('the refused event to be dead-lettered', async () => (await alice.listDeadLetters(aSink)).deadLetters.some((d) => d.condition === 'AccessDenied'), 30_000, 200);
    const refused = (await alice.listDeadLetters(aSink)).deadLetters.find((d) => d.condition === 'AccessDenied')!;
    expect(refused.errorType).toBe('AccessDenied');
    expect(refused.errorMessage).toContain(`subject:${tenantB}.orders.created`);
    expect(JSON.stringify(refused.record)).toContain('"order":2');
    // Exactly one event ran: the second never reached the function.
    expect((await alice.listDeadLetters(aSink)).deadLetters.filter((d) => d.condition === 'RetriesExhausted')).toHaveLength(1);
  });

  test('a policy allowing a mapping lets another tenant\'s table feed the function; removing it holds the batches back as AccessDenied', async () => {
    const table = uniqueName('b-table');
    await bob.tables.create(table);
    await denied(bob.mappings.create(aFn, { kind: 'table', name: table, filter: '' }), 'mapping');
    await alice.auth.addPermission(aFn, { sid: 'b-table-feed', actions: ['function:invoke'], principal: 'mapping', source: `table:${table}`, sourceTenant: tenantB });
    await waitFor('the grant to reach the router', async () => bob.mappings.create(aFn, { kind: 'table', name: table, filter: '' }, { settings: { batchSize: 1, maximumBatchingWindowMs: 0 } }).then(() => true, () => false), 5000, 100);
    const [mapping] = (await bob.mappings.list(aFn)).filter((m) => m.source.name === table);
    await bob.tables.put(table, 'k1', '{"v":1}');
    await waitFor('the first change to run', async () => (await bob.mappings.get(mapping!.id)).lastProcessingResult === 'OK', 30_000, 200);
    await alice.auth.removePermission(aFn, 'b-table-feed');
    await new Promise((r) => setTimeout(r, 300));
    await bob.tables.put(table, 'k2', '{"v":2}');
    await waitFor('the next batch to be held back', async () => (await bob.mappings.get(mapping!.id)).lastProcessingResult.includes('AccessDenied'), 30_000, 200);
    await bob.mappings.delete(mapping!.id);
  }, 60_000);

  test('a function whose role allows invoking B can; without that permission, or without a role, it gets AccessDenied', async () => {
    const target = uniqueName('a-target');
    const other = uniqueName('a-other');
    const caller = uniqueName('a-caller');
    const roleless = uniqueName('a-roleless');
    await alice.deploy({ name: target, source: functionDir({ 'index.js': 'exports.handler = async (e) => ({ target: true, from: e.from });' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    await alice.deploy({ name: other, source: functionDir({ 'index.js': 'exports.handler = async () => ({ other: true });' }), settings: { runtime: 'nodejs', handler: 'index.handler' } });
    expect((await failure(alice.deploy({ name: caller, source: functionDir({ 'index.js': CALLER }), settings: { runtime: 'nodejs', handler: 'index.handler', role: 'invoker', timeoutSeconds: 10 } }))).message).toContain("role 'invoker' does not exist");
    await alice.auth.putRole('invoker', [{ actions: ['function:invoke'], resources: [`function:${target}`] }]);
    await alice.deploy({ name: caller, source: functionDir({ 'index.js': CALLER }), settings: { runtime: 'nodejs', handler: 'index.handler', role: 'invoker', timeoutSeconds: 10 } });
    await alice.deploy({ name: roleless, source: functionDir({ 'index.js': CALLER }), settings: { runtime: 'nodejs', handler: 'index.handler', timeoutSeconds: 10 } });

    const ok = JSON.parse((await alice.invoke(caller, JSON.stringify({ target }))).payload.toString());
    expect(ok).toEqual({ ok: true, payload: { target: true, from: caller } });
    const notAllowed = JSON.parse((await alice.invoke(caller, JSON.stringify({ target: other }))).payload.toString());
    expect(notAllowed).toMatchObject({ ok: false, code: 'AccessDenied' });
    expect(notAllowed.message).toContain(`role 'invoker' of function '${caller}' does not allow function:invoke on function '${other}'`);
    const none = JSON.parse((await alice.invoke(roleless, JSON.stringify({ target }))).payload.toString());
    expect(none).toMatchObject({ ok: false, code: 'AccessDenied' });
    expect(none.message).toContain('has no execution role');
    // A role names what its own tenant may use: another tenant's function stays out of reach.
    await alice.auth.putRole('invoker', [{ actions: ['function:invoke'], resources: [`function:${target}`, `function:${bFn}`] }]);
    const crossTenant = JSON.parse((await alice.invoke(caller, JSON.stringify({ target: bFn }))).payload.toString());
    expect(crossTenant).toMatchObject({ ok: false, code: 'AccessDenied' });
    expect(crossTenant.message).toContain(`tenant ${tenantB}`);
  });

  test('a loop function → subject → function is stopped at the recursion limit and its event dead-lettered with the reason', async () => {
    const looper = uniqueName('a-looper');
    const subject = `${tenantA}.loop.${process.pid}`;
    await alice.auth.putRole('looper', [{ actions: ['subject:publish'], resources: [`subject:${tenantA}.loop.>`] }]);
    await alice.deploy({ name: looper, source: functionDir({ 'index.js': LOOPER }), settings: { runtime: 'nodejs', handler: 'index.handler', role: 'looper', timeoutSeconds: 10 } });
    await alice.createTrigger(looper, subject);
    await alice.publish(subject, JSON.stringify({ n: 0 }));
    await waitFor('the loop to be stopped', async () => (await alice.listDeadLetters(looper)).deadLetters.some((d) => d.condition === 'RecursiveInvocation'), 60_000, 250);
    const [stopped, ...more] = (await alice.listDeadLetters(looper)).deadLetters;
    expect(more).toHaveLength(0);
    expect(stopped!.errorType).toBe('RecursiveInvocation');
    expect(stopped!.errorMessage).toContain('recursion limit of 16');
    // Events 0..15 ran (16 invocations); the 17th, carrying n=16, was stopped.
    expect(JSON.stringify(stopped!.record)).toContain('"n":16');
    const metrics = await (await fetch(`http://127.0.0.1:${cluster.routers[0]!.httpPort}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`stratus_recursion_stopped_total\\{function="${looper}"\\} 1\\b`));
  }, 90_000);

  test('synchronous chains stop at the limit unless the function allows its loop', async () => {
    // Calls itself synchronously until n reaches the limit asked for; reports where it was stopped.
    const chain = `
const { StratusClient } = require('stratus');
let client;
exports.handler = async (event) => {
  client ??= StratusClient.fromFunctionEnvironment();
  if (event.n >= event.limit) return { reached: event.n };
  try {
    const r = await client.invoke(process.env.AWS_LAMBDA_FUNCTION_NAME, JSON.stringify({ n: event.n + 1, limit: event.limit }), { timeoutMs: 60000 });
    return JSON.parse(r.payload.toString());
  } catch (e) {
    return { stoppedAt: event.n, code: e.code };
  }
};`;
    const terminate = uniqueName('a-chain');
    const allow = uniqueName('a-chain-allowed');
    const role = 'self-chain';
    await alice.auth.putRole(role, [{ actions: ['function:invoke'], resources: ['function:a-chain-*'] }]);
    await alice.deploy({ name: terminate, source: functionDir({ 'index.js': chain }), settings: { runtime: 'nodejs', handler: 'index.handler', role, timeoutSeconds: 60 } });
    await alice.deploy({ name: allow, source: functionDir({ 'index.js': chain }), settings: { runtime: 'nodejs', handler: 'index.handler', role, timeoutSeconds: 60, recursiveLoop: 'Allow' } });
    // The 16th call may call no further: the 17th would pass the limit.
    expect(JSON.parse((await alice.invoke(terminate, JSON.stringify({ n: 1, limit: 20 }))).payload.toString())).toEqual({ stoppedAt: 16, code: 'RecursiveInvocation' });
    expect(JSON.parse((await alice.invoke(allow, JSON.stringify({ n: 1, limit: 20 }))).payload.toString())).toEqual({ reached: 20 });
  }, 120_000);

  test('scoped tokens narrow what a principal may do; revoked tokens stop working at once', async () => {
    const { token } = await alice.auth.createToken({ principal: 'ci', scopes: ['function:invoke'] });
    const ci = cluster.client({ token });
    expect(JSON.parse((await ci.invoke(aFn, '{}')).payload.toString()).tenant).toBe('a');
    await denied(ci.deleteFunction(aFn), 'scoped to function:invoke');
    await denied(ci.listFunctions(), 'function:read');
    await denied(alice.auth.createToken({ principal: 'x', scopes: ['*'] }).then(() => ci.auth.createToken({ principal: 'y' })), 'token');
    const id = (await ci.auth.whoAmI()).tokenId;
    await alice.auth.revokeToken(id);
    await waitFor('the revocation', async () => (await ci.invoke(aFn, '{}').then(() => false, (e: StratusError) => e.code === 'Unauthenticated')), 5000, 50);
    expect((await failure(cluster.client({ token: 'stx_notarealtoken_' + 'x'.repeat(43) }).listFunctions())).code).toBe('Unauthenticated');
  });
});
