/**
 * Runs the compiled Node bootstrap as a real child process against a real (in-test) Runtime API
 * server, with handler fixtures written to a temporary task root.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RecordingRuntimeApi, waitUntil, type Post } from '../../../test/helpers/recording-runtime-api';
import { applyEnvironment } from './bootstrap';

const BOOTSTRAP = path.resolve(__dirname, '../../../dist/node-agent/runtimes/nodejs/bootstrap.js');
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

interface Instance {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let api: RecordingRuntimeApi;
let apiAddress: string;
let taskRoot: string;
const children: ChildProcess[] = [];

function writeFixtures(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(taskRoot, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }
}

function startBootstrap(handler: string | undefined, extraEnv: Record<string, string> = {}): Instance {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    AWS_LAMBDA_RUNTIME_API: apiAddress,
    LAMBDA_TASK_ROOT: taskRoot,
    AWS_LAMBDA_FUNCTION_NAME: 'fn-test',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/fn-test',
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]abc',
    ...extraEnv,
  };
  if (handler !== undefined) env._HANDLER = handler;
  const child = spawn(process.execPath, [BOOTSTRAP], { cwd: taskRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function invoke(requestId: string, body?: string, headers?: Record<string, string>): Promise<Post> {
  api.enqueue({ requestId, body, headers });
  return api.result(requestId);
}

function json(post: Post): any {
  return JSON.parse(post.body);
}

beforeAll(() => {
  if (!fs.existsSync(BOOTSTRAP)) {
    throw new Error(`${BOOTSTRAP} is missing: run \`npm run build\` (or \`npx tsc -p tsconfig.build.json\`) first`);
  }
});

beforeEach(async () => {
  api = new RecordingRuntimeApi();
  apiAddress = await api.start();
  taskRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-node-runtime-'));
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  await api.close();
  fs.rmSync(taskRoot, { recursive: true, force: true });
});

describe('node bootstrap invocations', () => {
  test('async handler receives the documented context fields when invoked with trace and client headers', async () => {
    writeFixtures({
      'index.js': `exports.handler = async (event, context) => ({
        event,
        awsRequestId: context.awsRequestId,
        invokedFunctionArn: context.invokedFunctionArn,
        functionName: context.functionName,
        functionVersion: context.functionVersion,
        memoryLimitInMB: context.memoryLimitInMB,
        logGroupName: context.logGroupName,
        logStreamName: context.logStreamName,
        remaining: context.getRemainingTimeInMillis(),
        clientContext: context.clientContext,
        identity: context.identity,
        waits: context.callbackWaitsForEmptyEventLoop,
        traceparent: context.traceparent,
        env: { xray: process.env._X_AMZN_TRACE_ID, traceparent: process.env.TRACEPARENT, tracestate: process.env.TRACESTATE },
      });`,
    });
    startBootstrap('index.handler');
    const first = json(
      await invoke('req-ctx-1', '{"hello":"world"}', {
        'lambda-runtime-trace-id': 'Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1',
        'lambda-runtime-client-context': '{"client":{"app_title":"demo"},"custom":{"k":"v"}}',
        'lambda-runtime-cognito-identity': '{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}',
        traceparent: TRACEPARENT,
        tracestate: 'vendor=1',
      }),
    );
    expect(first).toMatchObject({
      event: { hello: 'world' },
      awsRequestId: 'req-ctx-1',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:fn-test',
      functionName: 'fn-test',
      functionVersion: '$LATEST',
      memoryLimitInMB: '256',
      logGroupName: '/aws/lambda/fn-test',
      logStreamName: '2026/01/01/[$LATEST]abc',
      clientContext: { client: { app_title: 'demo' }, custom: { k: 'v' } },
      identity: { cognitoIdentityId: 'id-1', cognitoIdentityPoolId: 'pool-1' },
      waits: true,
      traceparent: TRACEPARENT,
      env: { xray: 'Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1', traceparent: TRACEPARENT, tracestate: 'vendor=1' },
    });
    expect(first.remaining).toBeGreaterThan(25_000);
    expect(first.remaining).toBeLessThanOrEqual(30_000);

    const second = json(await invoke('req-ctx-2', ''));
    expect(second.event).toEqual({});
    expect(second).not.toHaveProperty('clientContext');
    expect(second).not.toHaveProperty('identity');
    expect(second.env).toEqual({});
  });

  test('response carries application/json and null when the handler returns undefined', async () => {
    writeFixtures({ 'index.js': 'exports.handler = async () => undefined;' });
    startBootstrap('index.handler');
    const post = await invoke('req-undef');
    expect(post.kind).toBe('response');
    expect(post.body).toBe('null');
    expect(post.headers['content-type']).toBe('application/json');
  });

  test('module state survives when two invocations run in one process', async () => {
    writeFixtures({ 'index.js': 'let count = 0; exports.handler = async () => ({ count: ++count, pid: process.pid });' });
    const instance = startBootstrap('index.handler');
    const a = json(await invoke('req-state-1'));
    const b = json(await invoke('req-state-2'));
    expect([a.count, b.count]).toEqual([1, 2]);
    expect(a.pid).toBe(instance.child.pid);
    expect(b.pid).toBe(instance.child.pid);
  });

  test('callback handler responds only after pending timers when callbackWaitsForEmptyEventLoop is true', async () => {
    writeFixtures({
      'index.js': `exports.handler = (event, context, callback) => {
        if (event.check) return callback(null, { fired: globalThis.fired ?? null });
        callback(null, 'x');
        setTimeout(() => { globalThis.fired = Date.now(); }, 300);
      };`,
    });
    startBootstrap('index.handler');
    const post = await invoke('req-wait');
    expect(post.body).toBe('"x"');
    expect(post.at - (api.servedAt.get('req-wait') ?? 0)).toBeGreaterThanOrEqual(295);
    const check = json(await invoke('req-wait-check', '{"check":true}'));
    expect(check.fired).toBeLessThanOrEqual(post.at);
  });

  test('callback handler responds at once and timers run later when callbackWaitsForEmptyEventLoop is false', async () => {
    writeFixtures({
      'index.js': `exports.handler = (event, context, callback) => {
        if (event.check) return callback(null, { fired: globalThis.fired ?? null });
        context.callbackWaitsForEmptyEventLoop = false;
        setTimeout(() => { globalThis.fired = Date.now(); }, 300);
        callback(null, 'x');
      };`,
    });
    startBootstrap('index.handler');
    const post = await invoke('req-nowait');
    expect(post.body).toBe('"x"');
    expect(post.at - (api.servedAt.get('req-nowait') ?? 0)).toBeLessThan(250);
    await new Promise((r) => setTimeout(r, 500));
    const check = json(await invoke('req-nowait-check', '{"check":true}'));
    expect(check.fired - post.at).toBeGreaterThanOrEqual(200);
  });

  test('callback handler error is posted when callback receives an error', async () => {
    writeFixtures({ 'index.js': 'exports.handler = (e, c, cb) => cb(new RangeError("nope"));' });
    startBootstrap('index.handler');
    const post = await invoke('req-cb-err');
    expect(post.kind).toBe('error');
    expect(json(post)).toMatchObject({ errorType: 'RangeError', errorMessage: 'nope' });
  });

  test('callback-style handler uses the first settlement when it returns a promise and calls back later', async () => {
    writeFixtures({
      'index.js': 'exports.handler = async (e, c, cb) => { setTimeout(() => cb(null, "late"), 50); return "promise-first"; };',
    });
    startBootstrap('index.handler');
    expect((await invoke('req-first')).body).toBe('"promise-first"');
  });

  test('legacy context.succeed completes the invocation when a sync handler returns nothing', async () => {
    writeFixtures({ 'index.js': 'exports.handler = (e, context) => { setTimeout(() => context.succeed("legacy"), 20); };' });
    startBootstrap('index.handler');
    expect((await invoke('req-legacy')).body).toBe('"legacy"');
  });

  test('sync handler result is used when a two-parameter handler returns a value', async () => {
    writeFixtures({ 'index.js': 'exports.handler = (e) => ({ doubled: e.n * 2 });' });
    startBootstrap('index.handler');
    expect(json(await invoke('req-sync', '{"n":21}'))).toEqual({ doubled: 42 });
  });

  test('async handler fails with Runtime.NodeJsExit when its promise never settles and the loop empties', async () => {
    writeFixtures({ 'index.js': 'exports.handler = async (e) => e.hang ? new Promise(() => {}) : "alive";' });
    startBootstrap('index.handler');
    const post = await invoke('req-hang', '{"hang":true}');
    expect(json(post).errorType).toBe('Runtime.NodeJsExit');
    expect((await invoke('req-after-hang')).body).toBe('"alive"');
  });
});

describe('node bootstrap module loading', () => {
  test('ES module handler runs its top-level await during init when the file is .mjs', async () => {
    writeFixtures({
      'app.mjs': `const value = await new Promise((r) => setTimeout(() => r('tla-done'), 50));
        export const handler = async () => ({ value, url: typeof import.meta.url });`,
    });
    startBootstrap('app.handler');
    expect(json(await invoke('req-mjs'))).toEqual({ value: 'tla-done', url: 'string' });
  });

  test('.js handler loads as an ES module when package.json says type module', async () => {
    writeFixtures({
      'package.json': '{"type":"module"}',
      'index.js': 'export const handler = async () => ({ esm: typeof import.meta.url === "string" });',
    });
    startBootstrap('index.handler');
    expect(json(await invoke('req-type-module'))).toEqual({ esm: true });
  });

  test('.cjs handler loads as CommonJS even when package.json says type module', async () => {
    writeFixtures({
      'package.json': '{"type":"module"}',
      'legacy.cjs': 'exports.handler = async () => typeof require;',
    });
    startBootstrap('legacy.handler');
    expect((await invoke('req-cjs')).body).toBe('"function"');
  });

  test('handler in a sub-folder loads when the handler string has a path', async () => {
    writeFixtures({ 'lib/a.js': 'exports.handler = async () => "from lib/a";' });
    startBootstrap('lib/a.handler');
    expect((await invoke('req-lib')).body).toBe('"from lib/a"');
  });

  test('nested export is called when the handler string has a property path', async () => {
    writeFixtures({ 'file.js': 'exports.a = { b: async () => "nested" };' });
    startBootstrap('file.a.b');
    expect((await invoke('req-nested')).body).toBe('"nested"');
  });
});

describe('node bootstrap invocation errors', () => {
  test('thrown Error is posted with its name, message and trace array', async () => {
    writeFixtures({ 'index.js': 'exports.handler = async () => { throw new TypeError("boom"); };' });
    const instance = startBootstrap('index.handler');
    const post = await invoke('req-throw');
    expect(post.kind).toBe('error');
    expect(post.headers['content-type']).toBe('application/json');
    const body = json(post);
    expect(body.errorType).toBe('TypeError');
    expect(body.errorMessage).toBe('boom');
    expect(body.trace[0]).toBe('TypeError: boom');
    expect(body.trace.length).toBeGreaterThan(1);
    await waitUntil(() => instance.stdout().includes('Invoke Error'), 5_000, 'invoke error log');
    expect(instance.stdout()).toMatch(
      /\treq-throw\tERROR\tInvoke Error \t\{"errorType":"TypeError","errorMessage":"boom","stack":\["TypeError: boom",/,
    );
  });

  test('thrown string is posted with typeof as errorType and an empty trace', async () => {
    writeFixtures({ 'index.js': 'exports.handler = async () => { throw "plain"; };' });
    startBootstrap('index.handler');
    expect(json(await invoke('req-string'))).toEqual({ errorType: 'string', errorMessage: 'plain', trace: [] });
  });

  test('response fails with Runtime.JSONStringifyError when the result cannot be serialised', async () => {
    writeFixtures({
      'index.js': 'exports.handler = async (e) => { if (e.big) return { n: 1n }; const o = {}; o.self = o; return o; };',
    });
    startBootstrap('index.handler');
    for (const [id, body] of [['req-circular', '{}'], ['req-bigint', '{"big":true}']]) {
      const post = await invoke(id, body);
      expect(post.kind).toBe('error');
      expect(json(post)).toMatchObject({
        errorType: 'Runtime.JSONStringifyError',
        errorMessage: 'Unable to stringify response body',
      });
    }
  });

  test('event is rejected with Runtime.UnmarshalError when the body is not JSON', async () => {
    writeFixtures({ 'index.js': 'exports.handler = async () => "unreached";' });
    startBootstrap('index.handler');
    expect(json(await invoke('req-bad-json', '{not json')).errorType).toBe('Runtime.UnmarshalError');
    expect((await invoke('req-good-json', '"ok"')).body).toBe('"unreached"');
  });

  test('invocation fails with Runtime.PlatformError when the client context header is malformed', async () => {
    writeFixtures({ 'index.js': 'exports.handler = async () => "unreached";' });
    startBootstrap('index.handler');
    const post = await invoke('req-bad-ctx', '{}', { 'lambda-runtime-client-context': '{oops' });
    expect(json(post).errorType).toBe('Runtime.PlatformError');
  });

  test('unhandled rejection posts the error and exits 128 when it happens during an invocation', async () => {
    writeFixtures({
      'index.js': `exports.handler = async () => {
        Promise.reject(new Error('late boom'));
        await new Promise((r) => setTimeout(r, 200));
        return 'unreached';
      };`,
    });
    const instance = startBootstrap('index.handler');
    const post = await invoke('req-rejection');
    expect(post.kind).toBe('error');
    expect(json(post)).toMatchObject({ errorType: 'Runtime.UnhandledPromiseRejection', errorMessage: 'Error: late boom' });
    expect((await instance.exited).code).toBe(128);
  });

  test('uncaught exception posts the error and exits 129 when it happens during an invocation', async () => {
    writeFixtures({
      'index.js': 'exports.handler = async () => { setTimeout(() => { throw new TypeError("kaboom"); }, 10); return new Promise(() => {}); };',
    });
    const instance = startBootstrap('index.handler');
    const post = await invoke('req-uncaught');
    expect(json(post)).toMatchObject({ errorType: 'TypeError', errorMessage: 'kaboom' });
    expect((await instance.exited).code).toBe(129);
    expect(instance.stdout()).toContain('\treq-uncaught\tERROR\tUncaught Exception \t{"errorType":"TypeError"');
  });
  test('uncaught exception exits 1 after the response when it happens between invocations', async () => {
    writeFixtures({
      'index.js': `exports.handler = (e, context, callback) => {
        context.callbackWaitsForEmptyEventLoop = false;
        setTimeout(() => { throw new Error('after the fact'); }, 100);
        callback(null, 'done');
      };`,
    });
    const instance = startBootstrap('index.handler');
    expect((await invoke('req-late-crash')).body).toBe('"done"');
    expect((await instance.exited).code).toBe(1);
    expect(instance.stdout()).toContain('\tundefined\tERROR\tUncaught Exception \t{"errorType":"Error","errorMessage":"after the fact"');
    expect(api.posts.filter((p) => p.kind === 'error')).toEqual([]);
  });
});

describe('node bootstrap init errors', () => {
  async function initError(handler: string): Promise<{ post: Post; code: number | null; instance: Instance }> {
    const instance = startBootstrap(handler);
    const post = await api.waitForPost((p) => p.kind === 'init-error');
    const { code } = await instance.exited;
    expect(post.headers['lambda-runtime-function-error-type']).toBe(json(post).errorType);
    return { post, code, instance };
  }

  test('init fails with Runtime.ImportModuleError when the module file does not exist', async () => {
    const { post, code } = await initError('index.handler');
    expect(json(post).errorType).toBe('Runtime.ImportModuleError');
    expect(json(post).errorMessage).toBe("Error: Cannot find module 'index'");
    expect(code).toBe(1);
  });

  test('init fails with Runtime.ImportModuleError when the module requires a missing dependency', async () => {
    writeFixtures({ 'index.js': 'require("definitely-not-installed-pkg"); exports.handler = async () => 1;' });
    const { post } = await initError('index.handler');
    expect(json(post).errorType).toBe('Runtime.ImportModuleError');
    expect(json(post).errorMessage).toContain("Cannot find module 'definitely-not-installed-pkg'");
  });

  test('init fails with Runtime.HandlerNotFound when the export is missing', async () => {
    writeFixtures({ 'index.js': 'exports.other = async () => 1;' });
    const { post, code } = await initError('index.handler');
    expect(json(post)).toMatchObject({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'index.handler is undefined or not exported',
    });
    expect(code).toBe(1);
  });

  test('init fails with Runtime.MalformedHandlerName when the handler has no export part', async () => {
    writeFixtures({ 'index.js': 'exports.handler = async () => 1;' });
    const { post } = await initError('index');
    expect(json(post).errorType).toBe('Runtime.MalformedHandlerName');
  });

  test('init fails with Runtime.UserCodeSyntaxError when the module does not parse', async () => {
    writeFixtures({ 'index.js': 'exports.handler = async () => { return 1 ;;; }}' });
    const { post } = await initError('index.handler');
    expect(json(post).errorType).toBe('Runtime.UserCodeSyntaxError');
    expect(json(post).errorMessage).toMatch(/^SyntaxError: /);
  });

  test('init reports the error name as errorType when top-level code throws', async () => {
    writeFixtures({ 'index.mjs': 'throw new RangeError("bad config");\nexport const handler = async () => 1;' });
    const { post, code, instance } = await initError('index.handler');
    expect(json(post)).toMatchObject({ errorType: 'RangeError', errorMessage: 'bad config' });
    expect(json(post).trace[0]).toBe('RangeError: bad config');
    expect(code).toBe(1);
    expect(instance.stdout()).toContain('\tundefined\tERROR\tUncaught Exception \t{"errorType":"RangeError"');
  });
});

describe('node bootstrap logging and process', () => {
  test('console lines are tab-separated with request id and \\r for newlines when logging in text format', async () => {
    writeFixtures({
      'index.js': `console.log('loading');
        exports.handler = async () => { console.log('hello\\nworld', { a: 1 }); console.error('bad'); console.debug('dbg'); return 1; };`,
    });
    const instance = startBootstrap('index.handler');
    await invoke('req-log');
    await waitUntil(() => instance.stdout().includes('\tDEBUG\t'), 5_000, 'log lines');
    const lines = instance.stdout().split('\n');
    const iso = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${iso}\\tundefined\\tINFO\\tloading$`)),
        expect.stringMatching(new RegExp(`^${iso}\\treq-log\\tINFO\\thello\\rworld \\{ a: 1 \\}$`)),
        expect.stringMatching(new RegExp(`^${iso}\\treq-log\\tERROR\\tbad$`)),
        expect.stringMatching(new RegExp(`^${iso}\\treq-log\\tDEBUG\\tdbg$`)),
      ]),
    );
  });

  test('console writes JSON records and drops lower levels when AWS_LAMBDA_LOG_FORMAT is JSON with a level', async () => {
    writeFixtures({
      'index.js': 'exports.handler = async () => { console.debug("hidden"); console.info("shown", 42); console.warn({ k: "v" }); return 1; };',
    });
    const instance = startBootstrap('index.handler', { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'info' });
    await invoke('req-json-log');
    await waitUntil(() => instance.stdout().includes('"WARN"'), 5_000, 'JSON log lines');
    const records = instance
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(records.map((r) => r.message)).toEqual(['shown 42', { k: 'v' }]);
    expect(records[0]).toMatchObject({ level: 'INFO', requestId: 'req-json-log' });
    expect(records[0].timestamp).toMatch(/Z$/);
  });

  test('bootstrap exits 1 with a clear message when a required variable is missing', async () => {
    const instance = startBootstrap(undefined);
    expect((await instance.exited).code).toBe(1);
    expect(instance.stderr()).toContain('_HANDLER');
  });

  test('bootstrap exits non-zero when the Runtime API cannot be reached', async () => {
    writeFixtures({ 'index.js': 'exports.handler = async () => 1;' });
    await api.close();
    const instance = startBootstrap('index.handler');
    expect((await instance.exited).code).toBe(1);
    expect(instance.stderr()).toContain('Runtime API failed');
    api = new RecordingRuntimeApi();
    await api.start();
  });
});

describe('pre-started (standby) mode', () => {
  /** Starts the bootstrap as the agent's pre-start pool does: no function environment, a channel on fd 3. */
  function startStandby(): { child: ChildProcess; ready: Promise<void>; stderr(): string } {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LAMBDA_TASK_ROOT: taskRoot, STRATUS_STANDBY_FD: '3' };
    const child = spawn(process.execPath, [BOOTSTRAP], { cwd: taskRoot, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
    const channel = child.stdio[3] as unknown as NodeJS.ReadWriteStream;
    const ready = new Promise<void>((resolve) => channel.once('data', (d: Buffer) => d.toString() === 'ready\n' && resolve()));
    return { child, ready, stderr: () => err };
  }

  test('a standby runtime loads code written after it was ready, with the assigned environment at import time', async () => {
    const standby = startStandby();
    await standby.ready;
    // The code arrives only now, as the agent links it into /var/task at assignment.
    writeFixtures({ 'index.js': 'const seen = { secret: process.env.SECRET, standby: process.env.STRATUS_STANDBY_FD ?? null, name: process.env.AWS_LAMBDA_FUNCTION_NAME };\nexports.handler = async (e, ctx) => ({ seen, e, memory: ctx.memoryLimitInMB });' });
    const env = { PATH: process.env.PATH ?? '', AWS_LAMBDA_RUNTIME_API: apiAddress, LAMBDA_TASK_ROOT: taskRoot, _HANDLER: 'index.handler', AWS_LAMBDA_FUNCTION_NAME: 'fn-standby', AWS_LAMBDA_FUNCTION_VERSION: '$LATEST', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512', AWS_LAMBDA_LOG_GROUP_NAME: 'g', AWS_LAMBDA_LOG_STREAM_NAME: 's', SECRET: 'assigned' };
    (standby.child.stdio[3] as NodeJS.WritableStream).end(`${JSON.stringify({ env })}\n`);
    const post = await invoke('req-standby', '{"x":1}');
    expect(json(post)).toEqual({ seen: { secret: 'assigned', standby: null, name: 'fn-standby' }, e: { x: 1 }, memory: '512' });
  });

  test('a standby runtime exits 1 without running anything when the agent closes its channel', async () => {
    const standby = startStandby();
    await standby.ready;
    (standby.child.stdio[3] as NodeJS.WritableStream).end();
    const code = await new Promise<number | null>((resolve) => standby.child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(standby.stderr()).toContain('closed the assignment channel');
    expect(api.nextCalls).toBe(0);
  });
});

describe('applyEnvironment (a pre-started runtime taking its function\'s environment)', () => {
  test('leaves exactly the wanted variables, and writes or removes only those that differ', () => {
    const target: Record<string, string | undefined> = { PATH: '/bin', TZ: 'UTC', STRATUS_STANDBY_FD: '3', OLD: 'x' };
    const touched: string[] = [];
    const env = new Proxy(target, {
      set: (t, k, v) => {
        touched.push(`set ${String(k)}`);
        t[k as string] = v as string;
        return true;
      },
      deleteProperty: (t, k) => {
        touched.push(`delete ${String(k)}`);
        delete t[k as string];
        return true;
      },
    });
    applyEnvironment(env as NodeJS.ProcessEnv, { PATH: '/usr/bin:/bin', TZ: 'UTC', _HANDLER: 'index.handler' });
    expect({ ...target }).toEqual({ PATH: '/usr/bin:/bin', TZ: 'UTC', _HANDLER: 'index.handler' });
    // TZ is never touched: Node resets the time zone on every write to it.
    expect(touched.sort()).toEqual(['delete OLD', 'delete STRATUS_STANDBY_FD', 'set PATH', 'set _HANDLER']);
  });
});
