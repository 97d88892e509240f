/**
 * Every error a user can hit, against real processes: service errors by their stable code (and a
 * message that says what to do), function errors by their Lambda errorType.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { FunctionServiceClient, type UploadCodeResponse } from '../../proto/gen/stratus/v1/functions';
import { InvokeServiceClient, LogType, type InvokeResponse } from '../../proto/gen/stratus/v1/invoke';
import { StratusClient } from '../../sdk/client/stratus-client';
import type { FunctionSettings, InvokeResult } from '../../sdk/client/types';
import { StratusError } from '../../sdk/core/errors';
import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import { freePort } from '../helpers/ports';

const MB = 1024 * 1024;

let cluster: TestCluster;
let client: StratusClient;

beforeAll(async () => {
  cluster = await startCluster({ agents: 1 });
  client = cluster.client();
}, 60_000);
const tmpDirs: string[] = [];
afterAll(async () => {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
  await cluster?.stop();
});

const OK_FILES = { 'index.js': 'exports.handler = async (event) => ({ ok: true, event });' };

/** Deploys `files` under a fresh name as a nodejs function and returns the name. */
async function deploy(files: Record<string, string>, settings: FunctionSettings = {}): Promise<string> {
  const name = uniqueName('err');
  await client.deploy({ name, source: functionDir(files), settings: { runtime: 'nodejs', handler: 'index.handler', ...settings } });
  return name;
}

/** Runs `call`, expecting a StratusError, and returns it. */
async function serviceError(call: Promise<unknown>): Promise<StratusError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StratusError);
  return err as StratusError;
}

/** Asserts the invocation failed in the function and returns the error. */
function functionError(r: InvokeResult): NonNullable<InvokeResult['functionError']> {
  expect(r.functionError).toBeDefined();
  expect(r.functionError?.kind).toBe('Unhandled');
  return r.functionError as NonNullable<InvokeResult['functionError']>;
}

function tmpFile(name: string, content: Buffer | string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stratus-err-'));
  tmpDirs.push(dir);
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

function bearer(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

/** Invokes through a bare gRPC stub (no SDK checks in between) and resolves the error the router answered with. */
async function rawInvoke(functionName: string, payload: Buffer): Promise<grpc.ServiceError | null> {
  const raw = new InvokeServiceClient(cluster.routers[0]?.address ?? '', grpc.credentials.createInsecure());
  try {
    return await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.invoke(
        { functionName, qualifier: '', payload, logType: LogType.LOG_TYPE_NONE, clientContext: '', dryRun: false },
        bearer(cluster.apiToken),
        { deadline: Date.now() + 10_000 },
        (e: grpc.ServiceError | null, _res?: InvokeResponse) => resolve(e),
      ),
    );
  } finally {
    raw.close();
  }
}

describe('service errors', () => {
  test('invoke and get fail with FunctionNotFound when the function does not exist', async () => {
    const name = uniqueName('missing');
    const inv = await serviceError(client.invoke(name, '{}'));
    expect(inv.code).toBe('FunctionNotFound');
    expect(inv.message).toContain(name);
    expect(inv.message).toMatch(/deploy|stratus ls/);
    const get = await serviceError(client.getFunction(name));
    expect(get.code).toBe('FunctionNotFound');
    expect(get.message).toMatch(/stratus ls/);
  });

  test.each<[string, string, FunctionSettings, RegExp]>([
    ['an invalid name', 'bad name!', {}, /letters, digits/],
    ['an unknown runtime', '', { runtime: 'cobol' }, /use nodejs, python or provided/],
    ['a handler without an export', '', { handler: 'index' }, /file\.function/],
    ['too little memory', '', { memoryMb: 64 }, /from 128 to 10240 MB/],
    ['too much memory', '', { memoryMb: 20000 }, /from 128 to 10240 MB/],
    ['a zero timeout', '', { timeoutSeconds: 0 }, /from 1 to 900 seconds/],
    ['a timeout over 900 s', '', { timeoutSeconds: 901 }, /from 1 to 900 seconds/],
    ['a reserved environment variable', '', { environment: { AWS_REGION: 'eu-west-1' } }, /reserved.*choose another name/],
    ['environment variables over 4 KB', '', { environment: { BIG: 'x'.repeat(4100) } }, /4096-byte limit.*move large values/],
  ])('deploy fails with InvalidRequest when given %s', async (_what, badName, settings, hint) => {
    const name = badName || uniqueName('invalid');
    const err = await serviceError(client.deploy({ name, source: functionDir(OK_FILES), settings: { runtime: 'nodejs', handler: 'index.handler', ...settings } }));
    expect(err.code).toBe('InvalidRequest');
    expect(err.message).toMatch(hint);
    // Nothing was created.
    if (!badName) await expect(client.getFunction(name)).rejects.toMatchObject({ code: 'FunctionNotFound' });
  });

  test('updateFunctionConfiguration fails with InvalidRequest and keeps the old settings when a value is out of range', async () => {
    const name = await deploy(OK_FILES, { timeoutSeconds: 7 });
    await expect(client.updateFunctionConfiguration(name, { timeoutSeconds: 901 })).rejects.toMatchObject({ code: 'InvalidRequest' });
    await expect(client.updateFunctionConfiguration(name, { timeoutSeconds: 0 })).rejects.toMatchObject({ code: 'InvalidRequest' });
    await expect(client.updateFunctionConfiguration(name, { memoryMb: 64 })).rejects.toMatchObject({ code: 'InvalidRequest' });
    expect((await client.getFunction(name)).config).toMatchObject({ timeoutSeconds: 7, memoryMb: 128 });
  });

  test('the router refuses CreateFunction with InvalidRequest when a raw gRPC call asks for out-of-range memory', async () => {
    // The SDK checks sizes before sending; the router must not rely on that.
    const raw = new FunctionServiceClient(cluster.routers[0]?.address ?? '', grpc.credentials.createInsecure());
    try {
      const name = uniqueName('raw');
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        raw.createFunction(
          {
            config: { name, runtime: 'nodejs', handler: 'index.handler', memoryMb: 20000, timeoutSeconds: 0, environment: {}, description: '', layers: [], ephemeralStorageMb: 0, role: '', tags: {}, networkDisabled: false, recursiveLoop: '' },
            codeSha256: '0'.repeat(64),
          },
          bearer(cluster.apiToken),
          { deadline: Date.now() + 5000 },
          (e: grpc.ServiceError | null) => resolve(e),
        ),
      );
      expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err?.metadata.get('stratus-error-code')).toEqual(['InvalidRequest']);
      expect(err?.details).toMatch(/invalid memory 20000: use a whole number from 128 to 10240 MB/);
    } finally {
      raw.close();
    }
  });

  test('deploy fails with InvalidCode when the bundle is not an archive', async () => {
    const file = tmpFile('garbage.zip', randomBytes(4096));
    const err = await serviceError(client.deploy({ name: uniqueName('garbage'), source: file, settings: { runtime: 'nodejs', handler: 'index.handler' } }));
    expect(err.code).toBe('InvalidCode');
    expect(err.message).toMatch(/zip.*tar\.gz/);
  });

  test('deploy fails with InvalidCode when a zip is cut short', async () => {
    // A real zip's first bytes: recognised as a zip, but unreadable.
    const file = tmpFile('truncated.zip', Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), randomBytes(2048)]));
    const err = await serviceError(client.deploy({ name: uniqueName('trunc'), source: file, settings: { runtime: 'nodejs', handler: 'index.handler' } }));
    expect(err.code).toBe('InvalidCode');
    expect(err.message).toMatch(/rebuild the archive/);
  });

  test('deploy fails with PayloadTooLarge before uploading when the bundle is over 50 MB', async () => {
    const file = tmpFile('huge.zip', randomBytes(51 * MB));
    const err = await serviceError(client.deploy({ name: uniqueName('huge'), source: file, settings: { runtime: 'nodejs', handler: 'index.handler' } }));
    expect(err.code).toBe('PayloadTooLarge');
    expect(err.message).toMatch(/50 MB.*layer/);
  });

  test('the router refuses an upload with RESOURCE_EXHAUSTED and PayloadTooLarge when it streams past 50 MB despite a small header', async () => {
    const raw = new FunctionServiceClient(cluster.routers[0]?.address ?? '', grpc.credentials.createInsecure());
    try {
      const chunk = randomBytes(256 * 1024);
      const started = Date.now();
      const err = await new Promise<grpc.ServiceError | undefined>((resolve) => {
        let done = false;
        const call = raw.uploadCode(bearer(cluster.apiToken), { deadline: Date.now() + 20_000 }, (e: grpc.ServiceError | null, _res?: UploadCodeResponse) => {
          done = true;
          resolve(e ?? undefined);
        });
        call.on('error', () => undefined);
        void (async () => {
          call.write({ part: { $case: 'header', value: { size: 1024, sha256: '' } } });
          for (let sent = 0; sent < 51 * MB && !done; sent += chunk.length) {
            if (!call.write({ part: { $case: 'chunk', value: chunk } })) await new Promise((r) => call.once('drain', r));
          }
          if (!done) call.end();
        })().catch(() => undefined);
      });
      expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(err?.metadata.get('stratus-error-code')).toEqual(['PayloadTooLarge']);
      expect(err?.details).toMatch(/50 MB upload limit/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      raw.close();
    }
  }, 20_000);

  test('invoke fails with PayloadTooLarge in the client when the payload is over 6 MB', async () => {
    const name = await deploy(OK_FILES);
    const err = await serviceError(client.invoke(name, Buffer.alloc(6 * MB + 1, 0x20)));
    expect(err.code).toBe('PayloadTooLarge');
    expect(err.message).toMatch(/send a reference to the data instead/);
  });

  test('the router refuses a payload over 6 MB with PayloadTooLarge when a raw gRPC client sends one', async () => {
    const name = await deploy(OK_FILES);
    const err = await rawInvoke(name, Buffer.alloc(6.5 * MB, 0x20));
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err?.metadata.get('stratus-error-code')).toEqual(['PayloadTooLarge']);
    expect(err?.details).toMatch(/6291456-byte limit/);
  });

  describe('a payload that is not JSON is refused before anything runs', () => {
    // Counts its own runs: a refused payload that reached it would show as a skipped number.
    const COUNTER = { 'index.js': 'let runs = 0;\nexports.handler = async (event) => ({ runs: ++runs, event });' };

    test('sync invoke fails with InvalidRequestContent and the function does not run', async () => {
      const name = await deploy(COUNTER);
      expect(JSON.parse((await client.invoke(name, '{"a":1}')).payload.toString())).toEqual({ runs: 1, event: { a: 1 } });
      const err = await serviceError(client.invoke(name, 'hello, not json'));
      expect(err.code).toBe('InvalidRequestContent');
      expect(err.message).toMatch(/the payload is not valid JSON \(.*\): send a JSON document/);
      expect((await serviceError(client.invoke(name, Buffer.from([0x22, 0xff, 0xfe, 0x22])))).message).toMatch(/not valid UTF-8/);
      // The same warm instance runs next: had either refused call reached it, this would be run 4.
      expect(JSON.parse((await client.invoke(name, '"text"')).payload.toString())).toEqual({ runs: 2, event: 'text' });
    });

    test('an empty payload is no payload and still runs', async () => {
      const name = await deploy(OK_FILES);
      const res = await client.invoke(name, undefined);
      expect(res.functionError).toBeUndefined();
    });

    test('async invoke fails with InvalidRequestContent (not accepted: no request id)', async () => {
      const name = await deploy(OK_FILES);
      const err = await serviceError(client.invokeAsync(name, '{broken'));
      expect(err.code).toBe('InvalidRequestContent');
      expect(err.message).toMatch(/the event is not valid JSON/);
      await expect(client.invokeAsync(name, '{"n":1}')).resolves.toMatchObject({ requestId: expect.any(String) });
    });

    test('a raw gRPC client gets INVALID_ARGUMENT with the code in the metadata', async () => {
      const name = await deploy(OK_FILES);
      const err = await rawInvoke(name, Buffer.from('<xml/>'));
      expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err?.metadata.get('stratus-error-code')).toEqual(['InvalidRequestContent']);
    });
  });

  test('calls fail with Unauthenticated when the token is wrong', async () => {
    const wrong = cluster.client({ token: 'not-the-token', maxAttempts: 1 });
    const err = await serviceError(wrong.listFunctions());
    expect(err.code).toBe('Unauthenticated');
    expect(err.message).toMatch(/token/);
    await expect(wrong.invoke(uniqueName('x'), '{}')).rejects.toMatchObject({ code: 'Unauthenticated' });
  });

  test('the router answers UNAUTHENTICATED when a raw gRPC call carries no token', async () => {
    const raw = new InvokeServiceClient(cluster.routers[0]?.address ?? '', grpc.credentials.createInsecure());
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        raw.invoke(
          { functionName: 'anything', qualifier: '', payload: Buffer.alloc(0), logType: LogType.LOG_TYPE_NONE, clientContext: '', dryRun: false },
          new grpc.Metadata(),
          { deadline: Date.now() + 5000 },
          (e: grpc.ServiceError | null) => resolve(e),
        ),
      );
      expect(err?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(err?.metadata.get('stratus-error-code')).toEqual(['Unauthenticated']);
      expect(err?.details).toMatch(/STRATUS_TOKEN/);
    } finally {
      raw.close();
    }
  });

  test('the client fails with ServiceUnavailable naming the endpoint when no router listens there', async () => {
    const endpoint = `127.0.0.1:${await freePort()}`;
    const lonely = new StratusClient({ endpoints: endpoint, token: cluster.apiToken, connectTimeoutMs: 500, maxAttempts: 1 });
    try {
      const started = Date.now();
      const err = await serviceError(lonely.getFunction('anything'));
      expect(err.code).toBe('ServiceUnavailable');
      expect(err.message).toContain(endpoint);
      expect(err.message).toMatch(/STRATUS_ENDPOINT/);
      expect(Date.now() - started).toBeLessThan(3000);
      await expect(lonely.invoke('anything', '{}')).rejects.toMatchObject({ code: 'ServiceUnavailable' });
    } finally {
      lonely.close();
    }
  });
});

describe('init errors', () => {
  test('invoke reports Runtime.ImportModuleError when the handler module is missing', async () => {
    const name = await deploy(OK_FILES, { handler: 'missing.handler' });
    const e = functionError(await client.invoke(name, '{}'));
    expect(e.errorType).toBe('Runtime.ImportModuleError');
    expect(e.errorMessage).toMatch(/Cannot find module 'missing'/);
  });

  test('invoke reports Runtime.HandlerNotFound when the module does not export the handler', async () => {
    const name = await deploy(OK_FILES, { handler: 'index.nope' });
    const e = functionError(await client.invoke(name, '{}'));
    expect(e.errorType).toBe('Runtime.HandlerNotFound');
    expect(e.errorMessage).toMatch(/index\.nope is undefined or not exported/);
  });

  test('invoke reports the thrown error when top-level code throws at init', async () => {
    const name = await deploy({ 'index.js': "throw new RangeError('config is missing at init');\nexports.handler = async () => 1;" });
    const r = await client.invoke(name, '{}');
    const e = functionError(r);
    expect(e.errorType).toBe('RangeError');
    expect(e.errorMessage).toBe('config is missing at init');
    expect(r.report?.coldStart).toBe(true);
    // The next invocation tries init again and fails the same way.
    expect(functionError(await client.invoke(name, '{}')).errorType).toBe('RangeError');
  });

  test('invoke reports Runtime.UserCodeSyntaxError when the module has a syntax error', async () => {
    const name = await deploy({ 'index.js': 'exports.handler = async () => { return {; };' });
    const e = functionError(await client.invoke(name, '{}'));
    expect(e.errorType).toBe('Runtime.UserCodeSyntaxError');
    expect(e.errorMessage).toMatch(/SyntaxError/);
  });
});

describe('invocation errors', () => {
  test('invoke returns the error type, message and stack when the function throws', async () => {
    const name = await deploy({ 'index.js': 'exports.handler = async (event) => { return event.missing.field; };' });
    const r = await client.invoke(name, '{}');
    const e = functionError(r);
    expect(e.errorType).toBe('TypeError');
    expect(e.errorMessage).toMatch(/Cannot read properties of undefined/);
    expect(e.stackTrace.length).toBeGreaterThan(0);
    expect(e.stackTrace.join('\n')).toMatch(/index\.js/);
    const payload = JSON.parse(r.payload.toString('utf8')) as { errorType: string; errorMessage: string; trace: string[] };
    expect(payload).toMatchObject({ errorType: 'TypeError', errorMessage: e.errorMessage });
    expect(payload.trace).toEqual(e.stackTrace);
    // The instance survives a thrown error.
    expect(functionError(await client.invoke(name, '{}')).errorType).toBe('TypeError');
  });

  test('invoke reports Sandbox.Timedout and the next invocation works when the function outlives its timeout', async () => {
    const name = await deploy(
      { 'index.js': 'exports.handler = async (event) => { if (event.sleep) await new Promise((r) => setTimeout(r, 5000)); return "done"; };' },
      { timeoutSeconds: 1 },
    );
    const started = Date.now();
    const r = await client.invoke(name, JSON.stringify({ sleep: true }));
    const e = functionError(r);
    expect(e.errorType).toBe('Sandbox.Timedout');
    expect(e.errorMessage).toContain('Task timed out after 1.00 seconds');
    expect(e.errorMessage).toContain(r.requestId);
    expect(Date.now() - started).toBeLessThan(4000);
    const next = await client.invoke(name, '{}');
    expect(next.functionError).toBeUndefined();
    expect(JSON.parse(next.payload.toString())).toBe('done');
    expect(next.report?.coldStart).toBe(true);
  });

  test('invoke reports Runtime.ExitError with the exit status when the function exits mid-invocation', async () => {
    const name = await deploy({ 'index.js': 'exports.handler = async (event) => { if (event.exit) process.exit(3); return "alive"; };' });
    const e = functionError(await client.invoke(name, JSON.stringify({ exit: true })));
    expect(e.errorType).toBe('Runtime.ExitError');
    expect(e.errorMessage).toContain('exit status 3');
    const next = await client.invoke(name, '{}');
    expect(JSON.parse(next.payload.toString())).toBe('alive');
  });

  test('invoke reports a function error and the next invocation works when a timer throws during the invocation', async () => {
    const name = await deploy({
      'index.js':
        'exports.handler = async (event) => {\n' +
        "  if (event.crash) { setTimeout(() => { throw new EvalError('timer blew up'); }, 10); await new Promise((r) => setTimeout(r, 1000)); }\n" +
        '  return "fine";\n' +
        '};',
    });
    const r = await client.invoke(name, JSON.stringify({ crash: true }));
    const e = functionError(r);
    expect(e.errorType).toBe('EvalError');
    expect(e.errorMessage).toBe('timer blew up');
    for (let i = 0; i < 3; i += 1) {
      const next = await client.invoke(name, '{}');
      expect(next.functionError).toBeUndefined();
      expect(JSON.parse(next.payload.toString())).toBe('fine');
    }
  });

  test('the next invocation gets a fresh instance and its own result when the runtime is slow to exit after a crash', async () => {
    // Synchronous exit work (a log flush, say) keeps the crashed process alive for a while after it reported the error.
    const name = await deploy({
      'index.js':
        "process.on('exit', () => { const until = Date.now() + 300; while (Date.now() < until); });\n" +
        'exports.handler = async (event) => {\n' +
        "  if (event.crash) { setTimeout(() => { throw new URIError('late crash'); }, 10); await new Promise((r) => setTimeout(r, 1000)); }\n" +
        '  return process.pid;\n' +
        '};',
    });
    const crashed = await client.invoke(name, JSON.stringify({ crash: true }));
    expect(functionError(crashed).errorType).toBe('URIError');
    const next = await client.invoke(name, '{}');
    expect(next.functionError).toBeUndefined();
    expect(next.report?.coldStart).toBe(true);
  });

  test('invoke reports Runtime.OutOfMemory and the agent keeps serving when the function allocates past its memory', async () => {
    const name = await deploy(
      {
        'index.js':
          'const kept = [];\n' +
          'exports.handler = async () => { for (let i = 0; i < 40; i += 1) kept.push(Buffer.alloc(10 * 1024 * 1024, i)); return kept.length; };',
      },
      { memoryMb: 128 },
    );
    const e = functionError(await client.invoke(name, '{}'));
    expect(e.errorType).toBe('Runtime.OutOfMemory');
    expect(e.errorMessage).toMatch(/128 MB/);
    const other = await deploy(OK_FILES);
    const r = await client.invoke(other, '{"after":"oom"}');
    expect(r.functionError).toBeUndefined();
    expect(JSON.parse(r.payload.toString())).toEqual({ ok: true, event: { after: 'oom' } });
  });

  test('invoke reports Runtime.OutOfMemory when the function holds more than its memory from init and returns at once', async () => {
    // No sample of a running invocation would see this: the memory was taken before it began.
    const name = await deploy(
      { 'index.js': 'const kept = [];\nfor (let i = 0; i < 30; i += 1) kept.push(Buffer.alloc(10 * 1024 * 1024, i));\nexports.handler = async () => kept.length;' },
      { memoryMb: 128 },
    );
    for (let i = 0; i < 2; i += 1) {
      const e = functionError(await client.invoke(name, '{}'));
      expect(e.errorType).toBe('Runtime.OutOfMemory');
      expect(e.errorMessage).toMatch(/more than its 128 MB of memory: raise --memory/);
    }
  });
});

describe('throttling', () => {
  test('invoke fails with TooManyRequests and a retry hint when no agent has room', async () => {
    const small = await startCluster({ agents: 1, agentEnv: { STRATUS_AGENT_MEMORY_MB: '256' }, routerEnv: { STRATUS_PLACEMENT_WAIT_MS: '300' } });
    try {
      const c = small.client({ maxAttempts: 1 });
      const name = uniqueName('busy');
      await c.deploy({
        name,
        source: functionDir({ 'index.js': 'exports.handler = async () => { await new Promise((r) => setTimeout(r, 2000)); return "slept"; };' }),
        settings: { runtime: 'nodejs', handler: 'index.handler', memoryMb: 128 },
      });
      const outcomes = await Promise.allSettled([0, 1, 2].map(() => c.invoke(name, '{}')));
      const ok = outcomes.filter((o): o is PromiseFulfilledResult<InvokeResult> => o.status === 'fulfilled');
      const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as StratusError);
      expect(ok.map((o) => JSON.parse(o.value.payload.toString()))).toEqual(['slept', 'slept']);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toBeInstanceOf(StratusError);
      expect(failed[0]?.code).toBe('TooManyRequests');
      expect(failed[0]?.retryAfterMs).toBeGreaterThan(0);
      expect(failed[0]?.message).toMatch(/retry after \d+ ms/);
      // Once the instances are free again the function runs warm.
      const after = await c.invoke(name, '{}');
      expect(after.report?.coldStart).toBe(false);
    } finally {
      await small.stop();
    }
  }, 30_000);
});
