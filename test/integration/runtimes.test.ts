import { functionDir, startCluster, uniqueName, type TestCluster } from '../helpers/cluster';
import type { StratusClient } from '../../sdk/client/stratus-client';

/** Python, custom (provided) runtimes and layers, run in the default sandbox. */
let cluster: TestCluster;
let client: StratusClient;

beforeAll(async () => {
  cluster = await startCluster({ agents: 1 });
  client = cluster.client();
}, 60_000);
afterAll(async () => cluster?.stop());

async function invoke(name: string, event: unknown = {}): Promise<{ result: any; errorType?: string; errorMessage?: string; stack?: string[]; logTail: string }> {
  const res = await client.invoke(name, JSON.stringify(event), { logType: 'Tail' });
  return {
    result: JSON.parse(res.payload.toString() || 'null'),
    errorType: res.functionError?.errorType,
    errorMessage: res.functionError?.errorMessage,
    stack: res.functionError?.stackTrace,
    logTail: res.logTail,
  };
}

/** The bootstrap from AWS's custom runtime tutorial, in POSIX shell with curl, plus error paths. */
const BASH_BOOTSTRAP = `#!/bin/sh
set -eu
API="http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
if [ "\${FAIL_INIT:-}" = yes ]; then
  curl -sS -X POST "$API/init/error" -H 'Lambda-Runtime-Function-Error-Type: Runtime.ConfigInvalid' -d '{"errorMessage":"bad config","errorType":"Runtime.ConfigInvalid"}' >/dev/null
  exit 1
fi
COUNT=0
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -LD "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  DEADLINE=$(grep -Fi Lambda-Runtime-Deadline-Ms "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  ARN=$(grep -Fi Lambda-Runtime-Invoked-Function-Arn "$HEADERS" | tr -d '[:space:]' | cut -d: -f2-)
  COUNT=$((COUNT + 1))
  echo "handling $REQUEST_ID"
  case "$EVENT" in
    *fail*) curl -sS -X POST "$API/invocation/$REQUEST_ID/error" -d '{"errorMessage":"asked to fail","errorType":"Custom.Failure"}' >/dev/null ;;
    *) curl -sS -X POST "$API/invocation/$REQUEST_ID/response" -d "{\\"event\\":$EVENT,\\"count\\":$COUNT,\\"handler\\":\\"$_HANDLER\\",\\"fn\\":\\"$AWS_LAMBDA_FUNCTION_NAME\\",\\"memory\\":\\"$AWS_LAMBDA_FUNCTION_MEMORY_SIZE\\",\\"greeting\\":\\"\${GREETING:-}\\",\\"taskRoot\\":\\"$LAMBDA_TASK_ROOT\\",\\"deadline\\":$DEADLINE,\\"arn\\":\\"$ARN\\"}" >/dev/null ;;
  esac
  rm -f "$HEADERS"
done
`;

describe('python runtime', () => {
  const name = uniqueName('py');
  beforeAll(async () => {
    await client.deploy({
      name,
      source: functionDir({
        'app.py': `import os, logging
calls = 0
logger = logging.getLogger()
def handler(event, context):
    global calls
    calls += 1
    if event.get('fail'):
        raise ValueError('asked to fail')
    logger.info('handling %s', event)
    print('printed line')
    return {
        'calls': calls,
        'event': event,
        'request_id': context.aws_request_id,
        'function_name': context.function_name,
        'memory': context.memory_limit_in_mb,
        'version': context.function_version,
        'remaining_ok': 0 < context.get_remaining_time_in_millis() <= 5000,
        'greeting': os.environ.get('GREETING'),
        'task_root': os.environ.get('LAMBDA_TASK_ROOT'),
    }
`,
      }),
      settings: { runtime: 'python3.11', handler: 'app.handler', memoryMb: 256, timeoutSeconds: 5, environment: { GREETING: 'hej' } },
    });
  }, 30_000);

  test('a python handler gets its event, context and environment and keeps module state when invoked twice', async () => {
    const first = await invoke(name, { a: 1 });
    expect(first.errorType).toBeUndefined();
    expect(first.result).toMatchObject({ calls: 1, event: { a: 1 }, function_name: name, memory: '256', version: '$LATEST', remaining_ok: true, greeting: 'hej', task_root: '/var/task' });
    expect(first.logTail).toMatch(/\[INFO\]\t\S+Z\t[0-9a-f-]{36}\thandling \{'a': 1\}/);
    expect(first.logTail).toContain('printed line');
    const second = await invoke(name, { a: 2 });
    expect(second.result.calls).toBe(2);
    expect(typeof second.result.request_id).toBe('string');
  });

  test('a python exception comes back as a function error with type, message and stack when the handler raises', async () => {
    const res = await invoke(name, { fail: true });
    expect(res.errorType).toBe('ValueError');
    expect(res.errorMessage).toBe('asked to fail');
    expect(res.stack?.join('')).toContain('app.py');
  });

  test('python init errors come back as Runtime.ImportModuleError and the raised type when the module cannot load', async () => {
    const missing = uniqueName('pymissing');
    await client.deploy({ name: missing, source: functionDir({ 'app.py': 'import not_a_module\ndef handler(e, c):\n    return 1\n' }), settings: { runtime: 'python', handler: 'app.handler' } });
    const a = await invoke(missing);
    expect(a.errorType).toBe('Runtime.ImportModuleError');
    expect(a.errorMessage).toContain("Unable to import module 'app'");
    const raising = uniqueName('pyraise');
    await client.deploy({ name: raising, source: functionDir({ 'app.py': "raise RuntimeError('broken at import')\n" }), settings: { runtime: 'python', handler: 'app.handler' } });
    const b = await invoke(raising);
    expect(b.errorType).toBe('RuntimeError');
    const noHandler = uniqueName('pynohandler');
    await client.deploy({ name: noHandler, source: functionDir({ 'app.py': 'x = 1\n' }), settings: { runtime: 'python', handler: 'app.handler' } });
    expect((await invoke(noHandler)).errorType).toBe('Runtime.HandlerNotFound');
  });
});

describe('provided runtime', () => {
  test('a shell bootstrap speaking the Runtime API with curl answers, counts warm invocations and sees the headers when invoked', async () => {
    const name = uniqueName('bash');
    await client.deploy({ name, source: functionDir({ bootstrap: BASH_BOOTSTRAP }), settings: { runtime: 'provided.al2023', handler: 'function.handler', memoryMb: 192, environment: { GREETING: 'hello' } } });
    const first = await invoke(name, { x: 1 });
    expect(first.errorType).toBeUndefined();
    expect(first.result).toMatchObject({ event: { x: 1 }, count: 1, handler: 'function.handler', fn: name, memory: '192', greeting: 'hello', taskRoot: '/var/task' });
    expect(first.result.deadline).toBeGreaterThan(Date.now());
    expect(first.result.arn).toBe(`arn:aws:lambda:local:000000000000:function:${name}`);
    expect(first.logTail).toMatch(/handling [0-9a-f-]{36}/);
    const second = await invoke(name, { x: 2 });
    expect(second.result.count).toBe(2);
    const failed = await invoke(name, { fail: true });
    expect(failed.errorType).toBe('Custom.Failure');
    expect(failed.errorMessage).toBe('asked to fail');
  });

  test('a bootstrap that reports an init error fails the invocation with that error when init fails', async () => {
    const name = uniqueName('bashinit');
    await client.deploy({ name, source: functionDir({ bootstrap: BASH_BOOTSTRAP }), settings: { runtime: 'provided', environment: { FAIL_INIT: 'yes' } } });
    const res = await invoke(name);
    expect(res.errorType).toBe('Runtime.ConfigInvalid');
    expect(res.errorMessage).toBe('bad config');
  });

  test('a provided function without a bootstrap fails with a message that names the fix when invoked', async () => {
    const name = uniqueName('noboot');
    await client.deploy({ name, source: functionDir({ 'handler.sh': 'echo hi' }), settings: { runtime: 'provided' } });
    await expect(client.invoke(name, '{}')).rejects.toMatchObject({ code: 'InvalidCode', message: expect.stringContaining("executable named 'bootstrap'") });
  });
});

describe('layers', () => {
  test('one layer serves a Node and a Python function when both reference it', async () => {
    const layer = await client.publishLayer(uniqueName('shared'), functionDir({
      'nodejs/node_modules/greeter/index.js': "exports.greet = (n) => `hello ${n} from a layer`;",
      'python/greeter.py': "def greet(n):\n    return f'hello {n} from a layer'\n",
    }), { description: 'shared greeter' });
    expect(layer.version).toBe(1);
    const nodeFn = uniqueName('layernode');
    await client.deploy({ name: nodeFn, source: functionDir({ 'index.js': "const { greet } = require('greeter'); exports.handler = async (e) => greet(e.name);" }), settings: { runtime: 'nodejs', handler: 'index.handler', layers: [layer.ref] } });
    const pyFn = uniqueName('layerpy');
    await client.deploy({ name: pyFn, source: functionDir({ 'app.py': 'from greeter import greet\ndef handler(e, c):\n    return greet(e["name"])\n' }), settings: { runtime: 'python', handler: 'app.handler', layers: [layer.ref] } });
    expect((await invoke(nodeFn, { name: 'node' })).result).toBe('hello node from a layer');
    expect((await invoke(pyFn, { name: 'python' })).result).toBe('hello python from a layer');
  });

  test('a custom runtime delivered by a layer runs a function whose bundle has no bootstrap', async () => {
    const runtimeLayer = await client.publishLayer(uniqueName('shellrt'), functionDir({ bootstrap: BASH_BOOTSTRAP }), { compatibleRuntimes: ['provided'] });
    const name = uniqueName('onlayer');
    await client.deploy({ name, source: functionDir({ 'README.txt': 'code lives in the layer' }), settings: { runtime: 'provided', handler: 'x.y', layers: [runtimeLayer.ref] } });
    expect((await invoke(name, { via: 'layer' })).result).toMatchObject({ event: { via: 'layer' }, count: 1 });
  });

  test('a later layer\'s file wins when two layers carry the same path', async () => {
    const base = uniqueName('base');
    const first = await client.publishLayer(base, functionDir({ 'data/which.txt': 'first', 'data/only-first.txt': 'kept' }));
    const second = await client.publishLayer(uniqueName('over'), functionDir({ 'data/which.txt': 'second' }));
    const name = uniqueName('order');
    await client.deploy({ name, source: functionDir({ 'index.js': "const fs = require('fs'); exports.handler = async () => ({ which: fs.readFileSync('/opt/data/which.txt', 'utf8'), kept: fs.readFileSync('/opt/data/only-first.txt', 'utf8') });" }), settings: { runtime: 'nodejs', handler: 'index.handler', layers: [first.ref, second.ref] } });
    expect((await invoke(name)).result).toEqual({ which: 'second', kept: 'kept' });
    await client.updateFunctionConfiguration(name, { layers: [second.ref, first.ref] });
    expect((await invoke(name)).result).toEqual({ which: 'first', kept: 'kept' });
  });

  test('functions refuse unknown layers, incompatible runtimes and more than five layers when configured', async () => {
    const code = functionDir({ 'index.js': 'exports.handler = async () => 1;' });
    await expect(client.deploy({ name: uniqueName('badlayer'), source: code, settings: { runtime: 'nodejs', handler: 'index.handler', layers: ['nope:1'] } })).rejects.toMatchObject({ code: 'InvalidRequest' });
    const pyOnly = await client.publishLayer(uniqueName('pyonly'), functionDir({ 'python/x.py': '' }), { compatibleRuntimes: ['python3.12'] });
    await expect(client.deploy({ name: uniqueName('incompat'), source: code, settings: { runtime: 'nodejs', handler: 'index.handler', layers: [pyOnly.ref] } })).rejects.toMatchObject({ code: 'InvalidRequest', message: expect.stringContaining('python') });
    await expect(client.deploy({ name: uniqueName('six'), source: code, settings: { runtime: 'nodejs', handler: 'index.handler', layers: Array(6).fill(pyOnly.ref) } })).rejects.toMatchObject({ code: 'InvalidRequest' });
    const versions = await client.listLayerVersions(pyOnly.name);
    expect(versions.map((v) => v.version)).toEqual([1]);
    await client.deleteLayerVersion(pyOnly.name, 1);
    expect(await client.listLayerVersions(pyOnly.name)).toEqual([]);
  });
});
