/**
 * Runs the Python bootstrap from its source folder (Python is not compiled) as a real child process
 * against a real (in-test) Runtime API server, with handler fixtures written to a temporary task root.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RecordingRuntimeApi, waitUntil, type Post } from '../../../test/helpers/recording-runtime-api';

const BOOTSTRAP = path.resolve(__dirname, 'bootstrap.py');
const PYTHON = process.env.STRATUS_PYTHON || 'python3';
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const ARN = 'arn:aws:lambda:us-east-1:123456789012:function:fn-test';
const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';

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

interface StartOptions {
  env?: Record<string, string>;
  /** Send stdout to this file instead of a pipe: file writes are visible at once, pipe reads are not. */
  stdoutFile?: string;
}

/** Starts the bootstrap the way the agent does: `python3 -u bootstrap.py`, cwd = task root, a clean environment. */
function startBootstrap(handler: string | undefined, options: StartOptions = {}): Instance {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    LANG: 'en_US.UTF-8',
    TZ: 'UTC',
    AWS_LAMBDA_RUNTIME_API: apiAddress,
    LAMBDA_TASK_ROOT: taskRoot,
    PYTHONPATH: [taskRoot, '/opt/python'].join(':'),
    // The runtime runs from the source tree here: no __pycache__ next to it.
    PYTHONDONTWRITEBYTECODE: '1',
    AWS_LAMBDA_FUNCTION_NAME: 'fn-test',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/fn-test',
    AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]abc',
    ...options.env,
  };
  if (handler !== undefined) env._HANDLER = handler;
  const stdoutFd = options.stdoutFile === undefined ? 'pipe' : fs.openSync(options.stdoutFile, 'w');
  const child = spawn(PYTHON, ['-u', BOOTSTRAP], { cwd: taskRoot, env, stdio: ['ignore', stdoutFd, 'pipe'] });
  if (typeof stdoutFd === 'number') fs.closeSync(stdoutFd);
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const stdout = options.stdoutFile === undefined ? () => out : () => fs.readFileSync(options.stdoutFile as string, 'utf8');
  return { child, stdout, stderr: () => err, exited };
}

async function invoke(requestId: string, body?: string, headers?: Record<string, string>): Promise<Post> {
  api.enqueue({ requestId, body, headers });
  return api.waitForPost((p) => p.requestId === requestId);
}

function json(post: Post): any {
  return JSON.parse(post.body);
}

beforeEach(async () => {
  api = new RecordingRuntimeApi(ARN);
  apiAddress = await api.start();
  taskRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'stratus-python-runtime-'));
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  await api.close();
  fs.rmSync(taskRoot, { recursive: true, force: true });
});

describe('python bootstrap invocations', () => {
  const CONTEXT_HANDLER = `import os
def handler(event, context):
    cc = context.client_context
    return {
        "event": event,
        "aws_request_id": context.aws_request_id,
        "invoked_function_arn": context.invoked_function_arn,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_context": None if cc is None else {"app_title": cc.client.app_title, "custom": cc.custom, "env": cc.env},
        "traceparent": context.traceparent,
        "w3c": context.w3c(),
        "env": {k: os.environ.get(k) for k in ("_X_AMZN_TRACE_ID", "TRACEPARENT", "TRACESTATE", "USER_VAR")},
        "task_root_first": __import__("sys").path[0] == os.environ["LAMBDA_TASK_ROOT"],
    }
`;

  test('context carries the documented fields and trace env when invoked with trace, client and identity headers', async () => {
    writeFixtures({ 'app.py': CONTEXT_HANDLER });
    startBootstrap('app.handler', { env: { USER_VAR: 'user-value' } });
    const body = json(
      await invoke('req-ctx-1', '{"hello":"world"}', {
        'lambda-runtime-trace-id': 'Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1',
        'lambda-runtime-client-context': '{"client":{"app_title":"demo"},"custom":{"k":"v"},"env":{"platform":"x"}}',
        'lambda-runtime-cognito-identity': '{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}',
        traceparent: TRACEPARENT,
        tracestate: 'vendor=1',
      }),
    );
    expect(body).toMatchObject({
      event: { hello: 'world' },
      aws_request_id: 'req-ctx-1',
      invoked_function_arn: ARN,
      function_name: 'fn-test',
      function_version: '$LATEST',
      memory_limit_in_mb: '256',
      log_group_name: '/aws/lambda/fn-test',
      log_stream_name: '2026/01/01/[$LATEST]abc',
      identity: ['id-1', 'pool-1'],
      client_context: { app_title: 'demo', custom: { k: 'v' }, env: { platform: 'x' } },
      traceparent: TRACEPARENT,
      w3c: { traceparent: TRACEPARENT, tracestate: 'vendor=1' },
      env: {
        _X_AMZN_TRACE_ID: 'Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1',
        TRACEPARENT,
        TRACESTATE: 'vendor=1',
        USER_VAR: 'user-value',
      },
      task_root_first: true,
    });
    expect(body.remaining).toBeGreaterThan(25_000);
    expect(body.remaining).toBeLessThanOrEqual(30_000);
  });

  test('context has no client context, None identity fields and no trace env when the headers are absent', async () => {
    writeFixtures({ 'app.py': CONTEXT_HANDLER });
    startBootstrap('app.handler');
    await invoke('req-with-trace', '{}', { 'lambda-runtime-trace-id': 'Root=1-x', traceparent: TRACEPARENT, tracestate: 's=1' });
    const body = json(await invoke('req-bare', ''));
    expect(body).toMatchObject({
      event: {},
      identity: [null, null],
      client_context: null,
      traceparent: null,
      w3c: {},
      env: { _X_AMZN_TRACE_ID: null, TRACEPARENT: null, TRACESTATE: null, USER_VAR: null },
    });
  });

  test('module state survives when two invocations run in one process', async () => {
    writeFixtures({ 'app.py': 'import os\ncount = 0\ndef handler(event, context):\n    global count\n    count += 1\n    return {"count": count, "pid": os.getpid()}\n' });
    const instance = startBootstrap('app.handler');
    const a = json(await invoke('req-state-1'));
    const b = json(await invoke('req-state-2'));
    expect([a.count, b.count]).toEqual([1, 2]);
    expect([a.pid, b.pid]).toEqual([instance.child.pid, instance.child.pid]);
  });

  test('event reaches the handler decoded when the body is a dict, list, string, number or null', async () => {
    writeFixtures({ 'app.py': 'def handler(event, context):\n    return {"type": type(event).__name__, "event": event}\n' });
    startBootstrap('app.handler');
    const cases: Array<[string, string, unknown]> = [
      ['{"a":[1,2]}', 'dict', { a: [1, 2] }],
      ['[1,"two"]', 'list', [1, 'two']],
      ['"text"', 'str', 'text'],
      ['42', 'int', 42],
      ['1.5', 'float', 1.5],
      ['null', 'NoneType', null],
    ];
    for (const [i, [raw, type, value]] of cases.entries()) {
      expect(json(await invoke(`req-event-${i}`, raw))).toEqual({ type, event: value });
    }
  });

  test('response body is the JSON of the result when the handler returns None, a string, a dict or a Decimal', async () => {
    writeFixtures({
      'app.py': `from decimal import Decimal
def handler(event, context):
    return {"none": None, "str": "hi", "dict": {"a": 1, "b": [True, None]}, "decimal": {"n": Decimal("10"), "f": Decimal("1.5")}}[event]
`,
    });
    startBootstrap('app.handler');
    const none = await invoke('req-none', '"none"');
    expect(none.kind).toBe('response');
    expect(none.body).toBe('null');
    expect(none.headers['content-type']).toBe('application/json');
    expect((await invoke('req-str', '"str"')).body).toBe('"hi"');
    expect((await invoke('req-dict', '"dict"')).body).toBe('{"a": 1, "b": [true, null]}');
    expect(json(await invoke('req-decimal', '"decimal"'))).toEqual({ n: 10, f: 1.5 });
  });

  test('error post carries class name, message, request id, formatted stack and type header when the handler raises', async () => {
    writeFixtures({ 'app.py': 'def handler(event, context):\n    helper()\n\ndef helper():\n    raise ValueError("boom\\nsecond line")\n' });
    const instance = startBootstrap('app.handler');
    const post = await invoke('req-throw');
    expect(post.kind).toBe('error');
    expect(post.headers['lambda-runtime-function-error-type']).toBe('ValueError');
    expect(post.headers['content-type']).toBe('application/json');
    const file = path.join(taskRoot, 'app.py');
    expect(json(post)).toEqual({
      errorMessage: 'boom\nsecond line',
      errorType: 'ValueError',
      requestId: 'req-throw',
      stackTrace: [
        `  File "${file}", line 2, in handler\n    helper()\n`,
        `  File "${file}", line 5, in helper\n    raise ValueError("boom\\nsecond line")\n`,
      ],
    });
    // Logged before the post, as one line: \r between lines, NO-BREAK SPACE indentation (awslambdaric).
    const nbsp2 = '\u00a0\u00a0';
    expect(post.seenBefore).toBe('');
    await waitUntil(() => instance.stdout().includes('[ERROR]'), 5_000, 'error log line');
    expect(instance.stdout()).toContain(
      `[ERROR] ValueError: boom\rsecond line\rTraceback (most recent call last):\r${nbsp2}File "${file}", line 2, in handler\r${nbsp2}${nbsp2}helper()\r`,
    );
    expect(instance.stdout().split('\n').filter((l) => l.startsWith('[ERROR]'))).toHaveLength(1);
    expect((await invoke('req-after-throw')).kind).toBe('error');
    expect(instance.child.exitCode).toBeNull();
  });

  test('response fails with Runtime.MarshalError when the result is not JSON serialisable', async () => {
    writeFixtures({ 'app.py': 'def handler(event, context):\n    return {"s": {1, 2}}\n' });
    startBootstrap('app.handler');
    const post = await invoke('req-marshal');
    expect(post.kind).toBe('error');
    expect(post.headers['lambda-runtime-function-error-type']).toBe('Runtime.MarshalError');
    expect(json(post)).toEqual({
      errorMessage: 'Unable to marshal response: Object of type set is not JSON serializable',
      errorType: 'Runtime.MarshalError',
      requestId: 'req-marshal',
      stackTrace: [],
    });
  });

  test('event is rejected with Runtime.UnmarshalError when the body is not JSON', async () => {
    writeFixtures({ 'app.py': 'def handler(event, context):\n    return "reached"\n' });
    startBootstrap('app.handler');
    const post = await invoke('req-bad-json', '{not json');
    expect(post.headers['lambda-runtime-function-error-type']).toBe('Runtime.UnmarshalError');
    expect(json(post).errorMessage).toMatch(/^Unable to unmarshal input: Expecting property name/);
    expect((await invoke('req-good-json', '"ok"')).body).toBe('"reached"');
  });

  test('invocation fails with Runtime.LambdaContextUnmarshalError when the client context header is malformed', async () => {
    writeFixtures({ 'app.py': 'def handler(event, context):\n    return "unreached"\n' });
    startBootstrap('app.handler');
    const post = await invoke('req-bad-ctx', '{}', { 'lambda-runtime-client-context': '{oops' });
    expect(json(post)).toMatchObject({ errorType: 'Runtime.LambdaContextUnmarshalError', requestId: 'req-bad-ctx' });
    expect(json(post).errorMessage).toMatch(/^Unable to parse Client Context JSON: /);
  });

  test('handler in a sub-folder loads when the handler string is dir/module.fn', async () => {
    writeFixtures({ 'src/handlers/api.py': 'def main(event, context):\n    return __name__\n' });
    startBootstrap('src/handlers/api.main');
    expect((await invoke('req-dir')).body).toBe('"src.handlers.api"');
  });

  test('handler in a package loads when the handler string is pkg.mod.fn', async () => {
    writeFixtures({ 'pkg/__init__.py': '', 'pkg/mod.py': 'from . import helper\ndef fn(event, context):\n    return helper.VALUE\n', 'pkg/helper.py': 'VALUE = "pkg-ok"\n' });
    startBootstrap('pkg.mod.fn');
    expect((await invoke('req-pkg')).body).toBe('"pkg-ok"');
  });

  test('user module named bootstrap loads from the task root when the handler is bootstrap.handler', async () => {
    writeFixtures({ 'bootstrap.py': 'def handler(event, context):\n    return "user bootstrap"\n' });
    startBootstrap('bootstrap.handler');
    expect((await invoke('req-user-bootstrap')).body).toBe('"user bootstrap"');
  });

  test('runtime keeps working when the task root holds a module named like a stdlib module it uses', async () => {
    writeFixtures({ 'json.py': 'raise RuntimeError("shadowing json")\n', 'app.py': 'def handler(event, context):\n    return {"ok": event}\n' });
    startBootstrap('app.handler');
    expect(json(await invoke('req-shadow', '[1]'))).toEqual({ ok: [1] });
  });

  test('printed output is in stdout before the response is posted when the handler prints', async () => {
    writeFixtures({
      'app.py': 'import sys\ndef handler(event, context):\n    print("x" * 100000)\n    sys.stdout.write("no newline at the end")\n    print("to stderr", file=sys.stderr)\n    return "done"\n',
    });
    const stdoutFile = path.join(taskRoot, 'stdout.log');
    const instance = startBootstrap('app.handler', { stdoutFile });
    api.snapshot = () => instance.stdout();
    const post = await invoke('req-print');
    expect(post.body).toBe('"done"');
    expect(post.seenBefore).toBe(`${'x'.repeat(100000)}\nno newline at the end`);
    await waitUntil(() => instance.stderr().includes('to stderr'), 5_000, 'stderr line');
  });

  test('process exits with the handler code and posts nothing when the handler calls sys.exit', async () => {
    writeFixtures({ 'app.py': 'import sys\ndef handler(event, context):\n    print("leaving")\n    sys.exit(3)\n' });
    const instance = startBootstrap('app.handler');
    api.enqueue({ requestId: 'req-exit' });
    expect((await instance.exited).code).toBe(3);
    expect(instance.stdout()).toContain('leaving');
    expect(api.posts).toEqual([]);
  });

  test('background thread exception is ignored when it is raised during an invocation', async () => {
    writeFixtures({
      'app.py': 'import threading\ndef handler(event, context):\n    t = threading.Thread(target=lambda: 1 / 0)\n    t.start()\n    t.join()\n    return "still fine"\n',
    });
    const instance = startBootstrap('app.handler');
    expect((await invoke('req-thread')).body).toBe('"still fine"');
    expect((await invoke('req-thread-2')).body).toBe('"still fine"');
    expect(instance.stderr()).toContain('ZeroDivisionError');
  });
});

describe('python bootstrap init errors', () => {
  async function initError(handler: string): Promise<{ body: any; instance: Instance }> {
    const instance = startBootstrap(handler);
    const post = await api.waitForPost((p) => p.kind === 'init-error');
    const { code } = await instance.exited;
    expect(code).toBe(1);
    expect(api.nextCalls).toBe(0);
    const body = json(post);
    expect(post.headers['lambda-runtime-function-error-type']).toBe(body.errorType);
    expect(body.requestId).toBe('');
    return { body, instance };
  }

  test('init fails with Runtime.ImportModuleError when the module does not exist', async () => {
    const { body } = await initError('nothere.handler');
    expect(body).toEqual({
      errorType: 'Runtime.ImportModuleError',
      errorMessage: "Unable to import module 'nothere': No module named 'nothere'",
      requestId: '',
      stackTrace: [],
    });
  });

  test('init fails with Runtime.ImportModuleError when the module imports a missing dependency', async () => {
    writeFixtures({ 'app.py': 'import definitely_not_installed_pkg\ndef handler(e, c):\n    return 1\n' });
    const { body } = await initError('app.handler');
    expect(body.errorType).toBe('Runtime.ImportModuleError');
    expect(body.errorMessage).toBe("Unable to import module 'app': No module named 'definitely_not_installed_pkg'");
  });

  test('init fails with Runtime.HandlerNotFound when the function is missing', async () => {
    writeFixtures({ 'app.py': 'def other(e, c):\n    return 1\n' });
    const { body } = await initError('app.handler');
    expect(body).toMatchObject({ errorType: 'Runtime.HandlerNotFound', errorMessage: "Handler 'handler' missing on module 'app'" });
  });

  test('init fails with Runtime.MalformedHandlerName when the handler has no dot', async () => {
    const { body } = await initError('app');
    expect(body).toMatchObject({
      errorType: 'Runtime.MalformedHandlerName',
      errorMessage: "Bad handler 'app': not enough values to unpack (expected 2, got 1)",
    });
  });

  test('init fails with Runtime.UserCodeSyntaxError when the module does not parse', async () => {
    writeFixtures({ 'app.py': 'def handler(event, context:\n    return 1\n' });
    const { body } = await initError('app.handler');
    expect(body.errorType).toBe('Runtime.UserCodeSyntaxError');
    expect(body.errorMessage).toMatch(/^Syntax error in module 'app': .*\(app\.py, line 1\)$/);
    expect(body.stackTrace).toEqual([`  File "${path.join(taskRoot, 'app.py')}" Line 1\n    def handler(event, context:\n`]);
  });

  test('init fails with Runtime.BuiltInModuleConflict when the handler module is a built-in module', async () => {
    const { body } = await initError('sys.handler');
    expect(body).toMatchObject({ errorType: 'Runtime.BuiltInModuleConflict', errorMessage: 'Cannot use built-in module sys as a handler module' });
  });

  test('init reports the exception class name as errorType when top-level code raises', async () => {
    writeFixtures({ 'app.py': 'import os\nCONFIG = os.environ["MISSING_SETTING"]\ndef handler(e, c):\n    return 1\n' });
    const { body, instance } = await initError('app.handler');
    expect(body.errorType).toBe('KeyError');
    expect(body.errorMessage).toBe("'MISSING_SETTING'");
    expect(body.stackTrace[0]).toBe(`  File "${path.join(taskRoot, 'app.py')}", line 2, in <module>\n    CONFIG = os.environ["MISSING_SETTING"]\n`);
    expect(instance.stdout()).toContain("[ERROR] KeyError: 'MISSING_SETTING'\rTraceback (most recent call last):\r");
  });
});

describe('python bootstrap logging and process', () => {
  test('logging lines carry level, timestamp, request id and \\r for newlines when logging in text format', async () => {
    writeFixtures({
      'app.py': `import logging
logging.getLogger().warning("loading")
log = logging.getLogger("app")
def handler(event, context):
    log.info("hello\\nworld")
    log.debug("hidden at the default level")
    try:
        raise KeyError("k")
    except KeyError:
        log.exception("caught")
    return 1
`,
    });
    const instance = startBootstrap('app.handler');
    await invoke('req-log');
    await waitUntil(() => instance.stdout().includes('caught'), 5_000, 'log lines');
    const lines = instance.stdout().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^\\[WARNING\\]\\t${ISO}\\t\\tloading$`)),
        expect.stringMatching(new RegExp(`^\\[INFO\\]\\t${ISO}\\treq-log\\thello\\rworld$`)),
        expect.stringMatching(new RegExp(`^\\[ERROR\\]\\t${ISO}\\treq-log\\tcaught\\rTraceback \\(most recent call last\\):\\r[^\\n]*KeyError: 'k'$`)),
      ]),
    );
    expect(instance.stdout()).not.toContain('hidden');
  });

  test('logging writes JSON records and drops lower levels when AWS_LAMBDA_LOG_FORMAT is JSON with a level', async () => {
    writeFixtures({
      'app.py': `import logging
log = logging.getLogger("app")
def handler(event, context):
    log.info("hidden")
    log.warning("shown %s", 42, extra={"order": "o-1"})
    raise RuntimeError("json boom")
`,
    });
    const instance = startBootstrap('app.handler', { env: { AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'warning' } });
    await invoke('req-json-log');
    await waitUntil(() => instance.stdout().includes('json boom'), 5_000, 'JSON log lines');
    const records = instance
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(records).toHaveLength(2);
    expect(records[0]).toEqual({
      timestamp: expect.stringMatching(new RegExp(`^${ISO}$`)),
      level: 'WARNING',
      message: 'shown 42',
      logger: 'app',
      requestId: 'req-json-log',
      order: 'o-1',
    });
    expect(records[1]).toMatchObject({ level: 'ERROR', errorType: 'RuntimeError', errorMessage: 'json boom', requestId: 'req-json-log' });
    expect(records[1].stackTrace[0]).toContain('raise RuntimeError("json boom")');
  });

  test('bootstrap exits 1 with a clear message when a required variable is missing', async () => {
    const instance = startBootstrap(undefined);
    expect((await instance.exited).code).toBe(1);
    expect(instance.stderr()).toContain('missing required environment variable(s) _HANDLER');
  });

  test('bootstrap exits 1 when the Runtime API cannot be reached', async () => {
    writeFixtures({ 'app.py': 'def handler(e, c):\n    return 1\n' });
    await api.close();
    const instance = startBootstrap('app.handler');
    expect((await instance.exited).code).toBe(1);
    expect(instance.stderr()).toMatch(/GET \/2018-06-01\/runtime\/invocation\/next to the Runtime API at 127\.0\.0\.1:\d+ failed/);
    api = new RecordingRuntimeApi(ARN);
    await api.start();
  });

  test('bootstrap reconnects when the Runtime API drops its connection between invocations', async () => {
    writeFixtures({ 'app.py': 'def handler(e, c):\n    return e\n' });
    startBootstrap('app.handler');
    expect((await invoke('req-before-drop', '1')).body).toBe('1');
    await waitUntil(() => api.nextCalls === 2, 5_000, 'second next');
    api.dropConnections();
    await waitUntil(() => api.nextCalls === 3, 5_000, 'next on a new connection');
    expect((await invoke('req-after-drop', '2')).body).toBe('2');
  });
});

describe('pre-started (standby) mode', () => {
  test('a standby runtime loads code written after it was ready, with the assigned environment at import time', async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, LANG: 'en_US.UTF-8', LAMBDA_TASK_ROOT: taskRoot, PYTHONPATH: [taskRoot, '/opt/python'].join(':'), PYTHONDONTWRITEBYTECODE: '1', STRATUS_STANDBY_FD: '3' };
    const child = spawn(PYTHON, ['-u', BOOTSTRAP], { cwd: taskRoot, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    children.push(child);
    const channel = child.stdio[3] as unknown as NodeJS.ReadWriteStream;
    await new Promise<void>((resolve) => channel.once('data', (d: Buffer) => d.toString() === 'ready\n' && resolve()));
    // The code arrives only now, as the agent links it into /var/task at assignment.
    writeFixtures({ 'app.py': "import os\nSEEN = {'secret': os.environ.get('SECRET'), 'standby': os.environ.get('STRATUS_STANDBY_FD')}\ndef handler(e, c):\n    return {'seen': SEEN, 'e': e, 'name': c.function_name}\n" });
    const assigned: NodeJS.ProcessEnv = { ...env, AWS_LAMBDA_RUNTIME_API: apiAddress, _HANDLER: 'app.handler', AWS_LAMBDA_FUNCTION_NAME: 'fn-standby', AWS_LAMBDA_FUNCTION_VERSION: '$LATEST', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256', AWS_LAMBDA_LOG_GROUP_NAME: 'g', AWS_LAMBDA_LOG_STREAM_NAME: 's', SECRET: 'assigned' };
    delete assigned.STRATUS_STANDBY_FD;
    channel.end(`${JSON.stringify({ env: assigned })}\n`);
    const post = await invoke('req-standby', '{"x":1}');
    expect(json(post)).toEqual({ seen: { secret: 'assigned', standby: null }, e: { x: 1 }, name: 'fn-standby' });
  });
});
