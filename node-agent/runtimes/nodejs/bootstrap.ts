/**
 * Stratus' Node.js runtime: the program that runs inside each function instance, loads the user's
 * handler and serves invocations over the Lambda Runtime API with aws-lambda-ric 3.x semantics.
 *
 * Started by the agent as `node [--max-old-space-size=N] dist/node-agent/runtimes/nodejs/bootstrap.js`
 * with cwd = the function code. Uses Node builtins only and imports nothing outside this folder.
 *
 * Exit codes (the agent replaces the instance whenever this process ends):
 *   1   missing configuration, init failure (already posted to /init/error), Runtime API unreachable or
 *       answering 5xx, or a crash outside any invocation;
 *   128 unhandled promise rejection during an invocation (error already posted for that request);
 *   129 uncaught exception during an invocation (error already posted for that request).
 */
import * as http from 'node:http';
import { Socket } from 'node:net';
import { CHANNEL_PATH, CHANNEL_PROTOCOL, RUNTIME_CHANNEL_VARIABLE } from './frames';
import type { FunctionInfo, InvocationMeta } from './context';
import { applyTraceEnvironment, createContext, parseInvocationMeta, readRequestId } from './context';
import { parseLogFormat, parseLogLevel, patchConsole, RuntimeLogger } from './console-patch';
import type { LogFormat, LogLevel } from './console-patch';
import { ensureError, formatForLog, RuntimeError, toErrorPayload } from './errors';
import type { UserHandler } from './handler-loader';
import { loadHandler } from './handler-loader';
import { EmptyLoopHook, Invocation, startInvocation } from './invocation';
import type { Outcome } from './invocation';
import { RuntimeApiError, RuntimeClient } from './runtime-client';
import type { NextInvocation, OutcomeReport, PostResult } from './runtime-client';

/** Everything the runtime takes from its environment, resolved once at startup. */
export interface BootstrapConfig {
  /** `host:port` of the Runtime API (AWS_LAMBDA_RUNTIME_API). */
  runtimeApi: string;
  /** The agent's abstract socket for the frame channel (from STRATUS_RUNTIME_CHANNEL, `@name` → NUL name), if any. */
  channelSocket: string | undefined;
  /** Handler string (_HANDLER), e.g. `index.handler`. */
  handler: string;
  /** Function code directory (LAMBDA_TASK_ROOT). */
  taskRoot: string;
  /** AWS_LAMBDA_LOG_FORMAT; default TEXT. */
  logFormat: LogFormat;
  /** AWS_LAMBDA_LOG_LEVEL; default TRACE (no filtering). */
  logLevel: LogLevel;
  /** Static context fields; missing variables become empty strings. */
  fn: FunctionInfo;
  /** Names of AWS_LAMBDA_FUNCTION_* / LOG_* variables that were unset, to warn about once. */
  missingOptional: string[];
}

const REQUIRED = ['AWS_LAMBDA_RUNTIME_API', '_HANDLER', 'LAMBDA_TASK_ROOT'] as const;
// The Node RIC fails every invoke without these; Stratus starts anyway and warns, since they only fill context fields.
const CONTEXT_VARIABLES = [
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
];
const POST_TIMEOUT_MS = 10_000;
const EXIT_FAILURE = 1;
const EXIT_UNHANDLED_REJECTION = 128;
const EXIT_UNCAUGHT_EXCEPTION = 129;

/** Reads the environment; returns the names of missing required variables instead of a config. */
export function readConfig(env: NodeJS.ProcessEnv): { config: BootstrapConfig } | { missing: string[] } {
  const missing = REQUIRED.filter((name) => !env[name]);
  if (missing.length > 0) return { missing };
  const fn: FunctionInfo = {
    functionName: env.AWS_LAMBDA_FUNCTION_NAME ?? '',
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION ?? '',
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '',
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME ?? '',
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME ?? '',
  };
  return {
    config: {
      runtimeApi: env.AWS_LAMBDA_RUNTIME_API ?? '',
      channelSocket: env[RUNTIME_CHANNEL_VARIABLE]?.startsWith('@') ? `\0${env[RUNTIME_CHANNEL_VARIABLE].slice(1)}` : undefined,
      handler: env._HANDLER ?? '',
      taskRoot: env.LAMBDA_TASK_ROOT ?? '',
      logFormat: parseLogFormat(env.AWS_LAMBDA_LOG_FORMAT),
      logLevel: parseLogLevel(env.AWS_LAMBDA_LOG_LEVEL),
      fn,
      missingOptional: CONTEXT_VARIABLES.filter((name) => !env[name]),
    },
  };
}

/** Where the runtime is in its life; fatal errors are routed by it. */
type Phase =
  | { name: 'init' }
  | { name: 'idle' }
  | { name: 'invoking'; invocation: Invocation }
  | { name: 'reporting' };

/** The runtime's lifecycle: init, then the next → handler → response loop, and crash handling. */
export class NodeRuntime {
  private phase: Phase = { name: 'init' };
  private exitAfterReport: number | undefined;
  private initFailed = false;

  constructor(
    private readonly config: BootstrapConfig,
    private readonly deps: { client: RuntimeClient; logger: RuntimeLogger; hook: EmptyLoopHook },
  ) {}

  /** Loads the handler; on failure posts /init/error and exits, as Lambda expects. */
  async init(): Promise<UserHandler> {
    const { hook } = this.deps;
    hook.set(() => {
      this.failInitFromCallback(
        new RuntimeError('Runtime.NodeJsExit', 'The event loop emptied while the handler module was still loading (a top-level await that never settles?)'),
      );
    });
    try {
      const handler = await loadHandler(this.config.taskRoot, this.config.handler);
      hook.clear();
      return handler;
    } catch (err) {
      return this.failInit(err);
    }
  }

  /** Serves invocations until the process exits; rejects only when the Runtime API fails. */
  async serve(handler: UserHandler): Promise<never> {
    const { client, logger } = this.deps;
    this.phase = { name: 'idle' };
    let next = await client.nextInvocation();
    for (;;) {
      const requestId = readRequestId(next.headers);
      if (requestId === undefined) {
        throw new RuntimeApiError('GET /invocation/next answered without a Lambda-Runtime-Aws-Request-Id header');
      }
      applyTraceEnvironment(next.headers, process.env);
      logger.requestId = requestId;
      const invocation = this.start(handler, next);
      this.phase = { name: 'invoking', invocation };
      const outcome = await invocation.outcome;
      this.phase = { name: 'reporting' };
      const report = this.toReport(outcome);
      if ((outcome.kind === 'error' ? outcome.exitCode : undefined) !== undefined || this.exitAfterReport !== undefined) {
        // Exiting: the agent must have taken the outcome before it sees the process go.
        await this.post(requestId, report);
        process.exit(outcome.kind === 'error' && outcome.exitCode !== undefined ? outcome.exitCode : (this.exitAfterReport ?? EXIT_FAILURE));
      }
      const { posted, next: following } = await client.postThenNext(requestId, report, () => {
        // A crash while the post was being written belongs to this invocation; the post is out now.
        if (this.exitAfterReport !== undefined) process.exit(this.exitAfterReport);
        logger.requestId = undefined;
        this.phase = { name: 'idle' };
      });
      if (posted.kind === 'refused') {
        logger.requestId = requestId;
        this.warnIfRefused(report.kind, posted);
        logger.requestId = undefined;
      }
      next = following;
    }
  }

  /** Routes an uncaught exception or unhandled rejection to whatever is running now. */
  onFatal(kind: 'uncaughtException' | 'unhandledRejection', value: unknown): void {
    const error =
      kind === 'unhandledRejection' ? new RuntimeError('Runtime.UnhandledPromiseRejection', safeString(value), value) : value;
    const label = kind === 'unhandledRejection' ? 'Unhandled Promise Rejection' : 'Uncaught Exception';
    this.deps.logger.log('ERROR', [label, `\t${formatForLog(toErrorPayload(error))}`]);
    const exitCode = kind === 'unhandledRejection' ? EXIT_UNHANDLED_REJECTION : EXIT_UNCAUGHT_EXCEPTION;
    switch (this.phase.name) {
      case 'init':
        this.failInitFromCallback(error, { alreadyLogged: true });
        return;
      case 'invoking':
        if (this.phase.invocation.settle({ kind: 'error', error, exitCode, alreadyLogged: true })) return;
        // Already settled: the result is about to be posted; let that finish, then go.
        this.exitAfterReport = EXIT_FAILURE;
        return;
      case 'reporting':
        this.exitAfterReport = EXIT_FAILURE;
        return;
      case 'idle':
        // No request to charge it to; a fresh instance is the only safe state.
        process.exit(EXIT_FAILURE);
    }
  }

  /** Called from `beforeExit`: lets a waiting invocation finish, or explains an unexpected drain. */
  onEmptyLoop(): void {
    if (this.deps.hook.fire()) return;
    this.deps.logger.log('ERROR', [`Event loop emptied unexpectedly (phase ${this.phase.name}); exiting`]);
    process.exitCode = EXIT_FAILURE;
  }

  private start(handler: UserHandler, next: NextInvocation): Invocation {
    const { hook } = this.deps;
    let meta: InvocationMeta;
    let event: unknown;
    try {
      meta = parseInvocationMeta(next.headers);
    } catch (err) {
      return Invocation.failed(hook, err);
    }
    const text = next.body.toString('utf8');
    try {
      // Stratus sends an empty body when the caller gave no payload; AWS's CLI and console send `{}` in
      // that case, so handlers written for AWS expect an object, and `{}` is the least surprising event.
      event = text.trim() === '' ? {} : JSON.parse(text);
    } catch (err) {
      return Invocation.failed(hook, new RuntimeError('Runtime.UnmarshalError', `Unable to parse event body as JSON: ${ensureError(err).message}`, err));
    }
    return startInvocation(handler, event, (legacy) => createContext(meta, this.config.fn, legacy), hook);
  }

  /** Serialises an outcome for posting; an error is logged here, as the RIC logs it. */
  private toReport(outcome: Outcome): OutcomeReport {
    if (outcome.kind === 'success') {
      try {
        return { kind: 'response', body: JSON.stringify(outcome.result) ?? 'null' };
      } catch (err) {
        return this.toReport({ kind: 'error', error: new RuntimeError('Runtime.JSONStringifyError', 'Unable to stringify response body', err) });
      }
    }
    const payload = toErrorPayload(outcome.error);
    if (!outcome.alreadyLogged) this.deps.logger.log('ERROR', ['Invoke Error', `\t${formatForLog(payload)}`]);
    return { kind: 'error', payload };
  }

  /** Posts an outcome and waits for the agent's answer. */
  private async post(requestId: string, report: OutcomeReport): Promise<void> {
    const { client } = this.deps;
    const result = report.kind === 'response' ? await client.postResponse(requestId, report.body) : await client.postInvocationError(requestId, report.payload);
    this.warnIfRefused(report.kind, result);
  }

  private warnIfRefused(what: string, result: PostResult): void {
    if (result.kind === 'refused') {
      this.deps.logger.log('WARN', [`Runtime API refused the ${what}: HTTP ${result.status} ${result.body}`]);
    }
  }

  // Posts once even if both the loader and a crash handler report, then exits. Logged under the RIC's
  // "Uncaught Exception" label, which is what AWS users search their logs for after a failed init.
  /**
   * failInit for callers that cannot await (process hooks). failInit only rejects if formatting or
   * logging the error threw; the runtime must still end its init then, so it says so and exits.
   */
  private failInitFromCallback(error: unknown, opts: { alreadyLogged?: boolean } = {}): void {
    this.failInit(error, opts).catch((err: unknown) => {
      process.stderr.write(`stratus bootstrap: could not report the init error: ${ensureError(err).message}\n`);
      process.exit(EXIT_FAILURE);
    });
  }

  private async failInit(error: unknown, opts: { alreadyLogged?: boolean } = {}): Promise<never> {
    if (!this.initFailed) {
      this.initFailed = true;
      const payload = toErrorPayload(error);
      if (!opts.alreadyLogged) this.deps.logger.log('ERROR', ['Uncaught Exception', `\t${formatForLog(payload)}`]);
      try {
        await this.deps.client.postInitError(payload);
      } catch (err) {
        process.stderr.write(`stratus bootstrap: could not report the init error: ${ensureError(err).message}\n`);
      }
      process.exit(EXIT_FAILURE);
    }
    // A second reporter waits for the first one's exit.
    return new Promise<never>(() => undefined);
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * A pre-started runtime (STRATUS_STANDBY_FD set) has done its start-up without a function: it says
 * "ready" on that descriptor, waits for the one assignment it will get, a JSON line carrying the
 * function's whole environment, and makes it process.env before anything reads it, so the user's
 * module sees exactly what a freshly started instance would. A nodejs assignment says the agent
 * keeps speaking on the descriptor (as the Runtime API's frame channel): the connection is then
 * returned, paused, with any bytes already read after the assignment line; otherwise it is closed.
 */
export async function awaitAssignment(fd: number, env: NodeJS.ProcessEnv): Promise<{ socket: Socket; head: Buffer } | undefined> {
  await warmUpHttpClient().catch(() => undefined);
  const channel = new Socket({ fd, readable: true, writable: true });
  let received = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => void (received = Buffer.concat([received, chunk]));
  const line = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const end = received.indexOf(0x0a);
      if (end < 0) return;
      channel.off('data', check);
      channel.off('end', onEnd);
      channel.off('error', reject);
      resolve(received.subarray(0, end).toString('utf8'));
      received = received.subarray(end + 1);
    };
    const onEnd = (): void => reject(new Error('the agent closed the assignment channel before assigning a function'));
    channel.on('data', onData);
    channel.on('data', check);
    channel.once('end', onEnd);
    channel.once('error', reject);
    channel.write('ready\n');
  });
  channel.off('data', onData);
  const assignment = JSON.parse(line) as { env?: Record<string, string>; channel?: boolean };
  applyEnvironment(env, assignment.env ?? {});
  if (assignment.channel === true) {
    // The agent speaks the Runtime API's frame channel on this connection from now on.
    channel.pause();
    return { socket: channel, head: received };
  }
  channel.destroy();
  return undefined;
}

/**
 * Makes `env` exactly `wanted`, touching only what differs. Not for speed alone: Node reacts to
 * every write of TZ by resetting V8's and ICU's time zone, and unsetting it makes ICU detect the
 * zone from the system's files — 3.5 ms of a pre-started runtime's init when done blindly.
 */
export function applyEnvironment(env: NodeJS.ProcessEnv, wanted: Record<string, string>): void {
  for (const name of Object.keys(env)) if (!Object.hasOwn(wanted, name)) delete env[name];
  for (const [name, value] of Object.entries(wanted)) if (env[name] !== value) env[name] = value;
}

/**
 * V8 compiles a function on its first call, so a process's first HTTP request costs milliseconds
 * of compiling Node's client; a pre-started runtime pays that before it is ready, not in the
 * function's init. One upgrade request like the Runtime API channel's, to a server of this process
 * on an abstract Unix socket (no file, no port), closed before the function is assigned.
 */
async function warmUpHttpClient(): Promise<void> {
  const server = http.createServer((_req, res) => res.end());
  server.on('upgrade', (_req: http.IncomingMessage, socket: Socket) => socket.end(`HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${CHANNEL_PROTOCOL}\r\n\r\n`));
  const socketPath = `\0stratus-warm-up-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    await new Promise<void>((resolve) => {
      const req = http.request({ socketPath, method: 'GET', path: CHANNEL_PATH, headers: { connection: 'Upgrade', upgrade: CHANNEL_PROTOCOL }, agent: false });
      req.on('upgrade', (_res, socket: Socket) => {
        socket.destroy();
        resolve();
      });
      req.on('response', (res) => {
        res.resume();
        resolve();
      });
      req.on('error', () => resolve());
      req.end();
    });
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/** Bytes this process has written to stdout and stderr, when both are pipes (as the agent gives them). */
function writtenToPipes(): { out: number; err: number } | undefined {
  const out = (process.stdout as { bytesWritten?: unknown }).bytesWritten;
  const err = (process.stderr as { bytesWritten?: unknown }).bytesWritten;
  return typeof out === 'number' && typeof err === 'number' ? { out, err } : undefined;
}

/** Composition root: reads the environment, patches console, wires crash handlers, runs the loop. */
export async function main(): Promise<void> {
  const standbyFd = process.env.STRATUS_STANDBY_FD;
  const assigned = standbyFd !== undefined ? await awaitAssignment(Number(standbyFd), process.env) : undefined;
  const read = readConfig(process.env);
  if ('missing' in read) {
    process.stderr.write(
      `stratus bootstrap: cannot start, missing environment variable(s): ${read.missing.join(', ')}. ` +
        'The agent must set AWS_LAMBDA_RUNTIME_API (host:port), _HANDLER (file.export) and LAMBDA_TASK_ROOT (code directory).\n',
    );
    process.exit(EXIT_FAILURE);
  }
  const { config } = read;
  const logger = new RuntimeLogger({ format: config.logFormat, minLevel: config.logLevel });
  patchConsole(logger);
  if (config.missingOptional.length > 0) {
    logger.log('WARN', [`Context fields will be empty: unset ${config.missingOptional.join(', ')}`]);
  }
  const hook = new EmptyLoopHook();
  // The platform's own variable: user code neither needs it nor should see it.
  delete process.env[RUNTIME_CHANNEL_VARIABLE];
  const client = new RuntimeClient({ runtimeApi: config.runtimeApi, channelSocket: config.channelSocket, openChannel: assigned, postTimeoutMs: POST_TIMEOUT_MS, outputMark: writtenToPipes });
  const runtime = new NodeRuntime(config, { client, logger, hook });
  process.on('uncaughtException', (err) => runtime.onFatal('uncaughtException', err));
  process.on('unhandledRejection', (reason) => runtime.onFatal('unhandledRejection', reason));
  process.on('beforeExit', () => runtime.onEmptyLoop());
  const handler = await runtime.init();
  await runtime.serve(handler);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    const reason =
      err instanceof RuntimeApiError ? `the Runtime API failed: ${err.message}` : `unexpected error: ${ensureError(err).stack}`;
    process.stderr.write(`stratus bootstrap: stopping, ${reason}\n`);
    process.exit(EXIT_FAILURE);
  });
}
