import type { ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { FunctionRecord } from '../../sdk/core/function-config';
import type { Logger } from '../../sdk/platform/logger';
import { LineSplitter, LogTail } from '../runtime-api/log-tail';
import { OutputCounter } from '../runtime-api/output-counter';
import type { InstanceSandbox, LaunchPlan } from '../sandbox/instance-sandbox';
import { RuntimeApiServer, type OutputMark, type RuntimeErrorReport, type RuntimeEvent } from '../runtime-api/runtime-api-server';

/** Lifecycle of an instance; changed only by Instance.setState. */
export type InstanceState = 'starting' | 'idle' | 'busy' | 'stopped';

/** How an invocation on an instance ended. */
export type InvocationOutcome =
  | { kind: 'response'; payload: Buffer }
  | {
      kind: 'error';
      report: RuntimeErrorReport;
      /** The instance is gone and must not be reused. */
      fatal: boolean;
      /** The runtime was gone before it took the event: nothing ran, so the invocation may run elsewhere. */
      notStarted?: boolean;
    };

/** Result of starting an instance: ready, or the init error to hand to the first invocation. */
export type StartOutcome = { kind: 'ready'; initDurationMs: number } | { kind: 'failed'; report: RuntimeErrorReport };

/** How long an invocation may run, and what stops it early. */
export interface InvokeLimits {
  /** The function's timeout, for the Sandbox.Timedout message. */
  timeoutMs: number;
  /** When the instance is killed, from the hand-over: the timeout, or less when the caller's deadline comes first. */
  killAfterMs: number;
  /** The caller went away: the instance is killed (code that runs cannot be un-run). */
  signal?: AbortSignal;
}

/** Where an instance's output lines go besides the invocation's tail (the function's log stream). */
export type LogSink = (from: { id: string; record: FunctionRecord }, line: string, requestId: string | undefined, source: 'stdout' | 'stderr') => void;

/** What an instance needs beyond its launch plan. */
export interface InstanceOptions {
  id: string;
  record: FunctionRecord;
  logSink: LogSink;
  /** Called once when the process is gone, for whatever reason. */
  onExit: (instance: Instance) => void;
  /** Called after every state change, so the agent can advertise a newly idle instance at once. */
  onStateChange?: (instance: Instance) => void;
  /** How often a busy instance's memory is checked against its limit. */
  memoryCheckMs: number;
  /** Where the instance reports its own failures (killing or releasing its sandbox). */
  logger: Logger;
}

function errorReport(errorType: string, errorMessage: string): RuntimeErrorReport {
  return { errorType, errorMessage, stackTrace: [], body: Buffer.from(JSON.stringify({ errorType, errorMessage })) };
}

interface Pending {
  requestId: string;
  settle: (outcome: InvocationOutcome) => void;
}

/**
 * One function instance: a runtime process in its own process group, talking the Lambda Runtime
 * API to a server of its own. Runs one invocation at a time; lines it prints while busy belong to
 * that invocation.
 */
export class Instance {
  readonly id: string;
  readonly record: FunctionRecord;
  state: InstanceState = 'starting';
  lastUsedMs = Date.now();
  invocations = 0;
  private child: ChildProcess | undefined;
  private sandbox: InstanceSandbox | undefined;
  private readonly api: RuntimeApiServer;
  private pending: Pending | undefined;
  private currentTail: LogTail | undefined;
  private currentRequestId: string | undefined;
  /** The last invocation's id: output that trails its end (the pipes lag the result) is still its own. */
  private lastRequestId: string | undefined;
  private readonly output = new OutputCounter();
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private killedForMemory = false;
  /** Whether the sandbox saw an OOM kill, read once when the process exits (before the cgroup goes). */
  private oomAtExit: Promise<boolean> = Promise.resolve(false);
  private readyWaiter: ((o: StartOutcome) => void) | undefined;
  private readonly exited: Promise<void>;
  private markExited!: () => void;
  /** Settles once the sandbox is released after the process exited (its cgroup and /tmp disk gone). */
  private released: Promise<void> = Promise.resolve();

  constructor(private readonly options: InstanceOptions) {
    this.id = options.id;
    this.record = options.record;
    this.exited = new Promise((resolve) => (this.markExited = resolve));
    this.api = new RuntimeApiServer({
      onNext: () => this.readyWaiter?.({ kind: 'ready', initDurationMs: 0 }),
      onResponse: (id, body, mark) => this.settle(id, { kind: 'response', payload: body }, mark),
      onError: (id, report, mark) => this.settle(id, { kind: 'error', report, fatal: false }, mark),
      onInitError: (report) => this.readyWaiter?.({ kind: 'failed', report }),
    });
  }

  /** The Runtime API address to put in the plan's environment; call before start(). */
  listen(): Promise<string> {
    return this.api.listen();
  }

  /** Serves the Runtime API on a Unix socket too, for a sandbox without network. */
  listenUnix(socketPath: string): Promise<void> {
    return this.api.listenUnix(socketPath);
  }

  /**
   * Spawns the runtime inside its sandbox and waits until it asks for its first event, reports an
   * init error, exits, or `initTimeoutMs` passes.
   */
  start(runtimePlan: LaunchPlan, sandbox: InstanceSandbox, initTimeoutMs: number): Promise<StartOutcome> {
    return this.launch(sandbox, initTimeoutMs, () => {
      const { child, ready } = sandbox.spawn(runtimePlan, ['ignore', 'pipe', 'pipe']);
      // The sandbox kills the process when it cannot be completed; its reason is the init's failure.
      ready.catch((err: unknown) => this.readyWaiter?.({ kind: 'failed', report: errorReport('Runtime.SandboxError', (err as Error).message) }));
      return child;
    });
  }

  /**
   * Takes over a pre-started runtime (prestart-pool.ts) whose sandbox was already given this
   * function: hands it the function's environment and waits, as start() does, until it loaded the
   * code. The init duration is the code load, from the assignment on.
   */
  adopt(standby: { child: ChildProcess | undefined; sandbox: InstanceSandbox | undefined; assign(env: Record<string, string>): Duplex | undefined }, env: Record<string, string>, initTimeoutMs: number): Promise<StartOutcome> {
    const { child, sandbox } = standby;
    if (!child || !sandbox) throw new Error('the pre-started runtime has no process');
    return this.launch(sandbox, initTimeoutMs, () => {
      // A nodejs runtime keeps its assignment connection as its frame channel.
      const channel = standby.assign(env);
      if (channel) this.api.attachChannel(channel);
      return child;
    });
  }

  private async launch(sandbox: InstanceSandbox, initTimeoutMs: number, begin: () => ChildProcess): Promise<StartOutcome> {
    const startedAt = performance.now();
    this.sandbox = sandbox;
    sandbox.serveRuntimeApi((socket) => this.api.accept(socket));
    const outcome = await new Promise<StartOutcome>((resolve) => {
      let done = false;
      const finish = (o: StartOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.readyWaiter = undefined;
        resolve(o);
      };
      this.readyWaiter = finish;
      const timer = setTimeout(
        () => finish({ kind: 'failed', report: errorReport('Runtime.InitTimeout', `the function's init phase did not finish within ${initTimeoutMs} ms`) }),
        initTimeoutMs,
      );
      timer.unref();
      try {
        this.child = begin();
      } catch (err) {
        finish({ kind: 'failed', report: errorReport('Runtime.InvalidEntrypoint', `could not start the runtime: ${(err as Error).message}`) });
        return;
      }
      this.attachOutput(this.child);
      this.child.once('error', (err) =>
        finish({ kind: 'failed', report: errorReport('Runtime.InvalidEntrypoint', `could not start the runtime: ${err.message}`) }),
      );
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        this.onProcessExit(code, signal);
        // oomAtExit never rejects (onProcessExit maps a failed read to false).
        this.oomAtExit.then((oom) =>
          finish({
            kind: 'failed',
            report: oom
              ? errorReport('Runtime.OutOfMemory', `Runtime exited during init: the function used more than its ${this.record.config.memoryMb} MB of memory: raise --memory or use less`)
              : errorReport('Runtime.ExitError', `Runtime exited during init with error: ${this.exitText()}`),
          }),
        ).catch(() => undefined);
      };
      // A pre-started process may have died before it was adopted: its exit event is past.
      if (this.child.exitCode !== null || this.child.signalCode !== null) onExit(this.child.exitCode, this.child.signalCode);
      else this.child.once('exit', onExit);
    });
    if (outcome.kind === 'failed') {
      this.terminate();
      return outcome;
    }
    this.setState('idle');
    return { kind: 'ready', initDurationMs: performance.now() - startedAt };
  }

  /**
   * Runs one invocation. Resolves with the runtime's response or error; a timeout (or the caller's
   * deadline, reported the same way), a cancel, a crash or a memory overrun kills the whole process
   * group and resolves as a fatal error.
   */
  async invoke(event: RuntimeEvent, limits: InvokeLimits, tail: LogTail): Promise<InvocationOutcome> {
    const { killAfterMs, signal } = limits;
    this.setState('busy');
    this.invocations += 1;
    this.currentTail = tail;
    this.currentRequestId = event.requestId;
    this.lastRequestId = event.requestId;
    // Where the kernel enforces the limit (cgroups) there is nothing to watch.
    const watch = this.sandbox?.enforcesMemory ? undefined : setInterval(() => this.checkMemory().catch((err: unknown) => this.warn('could not check the instance\'s memory', err)), this.options.memoryCheckMs);
    watch?.unref();
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => this.fail(errorReport('Sandbox.Cancelled', `${new Date().toISOString()} ${event.requestId} The caller cancelled the invocation; the instance was stopped`));
    try {
      const outcome = await new Promise<InvocationOutcome>((resolve) => {
        this.pending = { requestId: event.requestId, settle: resolve };
        timer = setTimeout(() => {
          const seconds = (killAfterMs / 1000).toFixed(2);
          this.fail(errorReport('Sandbox.Timedout', `${new Date().toISOString()} ${event.requestId} Task timed out after ${seconds} seconds`));
        }, Math.max(0, killAfterMs));
        timer.unref();
        signal?.addEventListener('abort', onAbort, { once: true });
        if (this.exitInfo) this.fail(this.exitReport(), true);
        else if (signal?.aborted) onAbort();
        else this.api.deliver(event);
      });
      // The watch samples, so memory taken at init or in a burst between samples would escape it;
      // the peak cannot. The instance must not live on holding more than it is booked for.
      if (!(outcome.kind === 'error' && outcome.fatal) && (await this.peakOverLimit())) {
        this.killedForMemory = true;
        this.killTree();
        await this.exited;
        return { kind: 'error', report: this.exitReport(event.requestId, true), fatal: true };
      }
      return outcome;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      clearInterval(watch);
      this.currentTail = undefined;
      this.currentRequestId = undefined;
      this.lastUsedMs = Date.now();
      if (this.state === 'busy') this.setState('idle');
    }
  }

  /** Claims an idle instance for an invocation about to be handed to it. */
  reserve(): void {
    if (this.state === 'idle') this.setState('busy');
  }

  /** Peak memory of the instance, in MB. */
  maxMemoryUsedMb(): Promise<number> {
    return this.child?.pid && this.sandbox ? this.sandbox.peakMemoryMb(this.child.pid) : Promise.resolve(0);
  }

  /** Kills the process group and closes the Runtime API; resolves when the process is gone and its sandbox released. */
  async stop(): Promise<void> {
    this.terminate();
    if (this.child?.pid && !this.exitInfo) await this.exited;
    await this.released;
  }

  /** Starts stopping the instance, for callers that need not wait for the process to be gone. Once-only. */
  terminate(): void {
    if (this.state === 'stopped') return;
    this.setState('stopped');
    this.killTree();
    this.api.close();
  }

  private setState(next: InstanceState): void {
    if (this.state === 'stopped' || this.state === next) return;
    this.state = next;
    this.options.onStateChange?.(this);
  }

  private settle(requestId: string, outcome: InvocationOutcome, mark?: OutputMark): void {
    const pending = this.pending;
    if (!pending || pending.requestId !== requestId) return;
    this.pending = undefined;
    // Lines the runtime logged before its result may still be in the pipes: read up to its mark
    // first. A runtime on HTTP gives no mark; one more loop turn lets lines that arrived with the
    // result reach the tail, which closes when the invocation settles.
    // reached() only resolves: it waits for byte counts, it cannot fail.
    if (mark) this.output.reached(mark).then(() => pending.settle(outcome), () => pending.settle(outcome));
    else setImmediate(() => pending.settle(outcome));
  }

  /** Ends the current invocation with a fatal error and kills the instance. */
  private fail(report: RuntimeErrorReport, notStarted = false): void {
    const pending = this.pending;
    this.terminate();
    if (!pending) return;
    this.pending = undefined;
    pending.settle({ kind: 'error', report, fatal: true, notStarted });
  }

  private killTree(): void {
    const pid = this.child?.pid;
    if (!pid || !this.sandbox) return;
    // Even after the launched process exited, processes it forked may live on in the sandbox.
    this.sandbox.killAll(pid).catch((err: unknown) => this.warn('could not kill the instance\'s processes', err));
  }

  private warn(msg: string, err: unknown): void {
    this.options.logger.warn(msg, { instance: this.id, function: this.record.config.name, error: err instanceof Error ? err.message : String(err) });
  }

  /** Whether the runtime's peak resident memory since it started passed the function's memory size. */
  private async peakOverLimit(): Promise<boolean> {
    const pid = this.child?.pid;
    if (pid === undefined || this.exitInfo || !this.sandbox || this.sandbox.enforcesMemory) return false;
    return (await this.sandbox.peakMemoryMb(pid)) > this.record.config.memoryMb;
  }

  private async checkMemory(): Promise<void> {
    const pid = this.child?.pid;
    if (!pid || this.state !== 'busy' || !this.sandbox) return;
    if ((await this.sandbox.currentMemoryMb(pid)) > this.record.config.memoryMb) {
      this.killedForMemory = true;
      this.killTree();
    }
  }

  private attachOutput(child: ChildProcess): void {
    const onLine = (line: string, source: 'stdout' | 'stderr'): void => {
      this.currentTail?.push(line);
      this.options.logSink(this, line, this.currentRequestId ?? this.lastRequestId, source);
    };
    const out = new LineSplitter((line) => onLine(line, 'stdout'));
    const err = new LineSplitter((line) => onLine(line, 'stderr'));
    child.stdout?.on('data', (c: Buffer) => {
      out.write(c);
      this.output.received('out', c.length);
    });
    child.stderr?.on('data', (c: Buffer) => {
      err.write(c);
      this.output.received('err', c.length);
    });
    child.stdout?.on('end', () => out.flush());
    child.stderr?.on('end', () => err.flush());
  }

  private exitText(): string {
    const info = this.exitInfo;
    if (!info) return 'unknown';
    return info.signal ? `signal: ${info.signal === 'SIGKILL' ? 'killed' : info.signal}` : `exit status ${info.code}`;
  }

  private exitReport(requestId = this.pending?.requestId ?? '', oomKilled = false): RuntimeErrorReport {
    const text = `RequestId: ${requestId} Error: Runtime exited with error: ${this.exitText()}`;
    // A V8 heap overrun aborts the process (SIGABRT); with the heap sized to the function's memory that is an OOM.
    const abortedNearLimit = this.exitInfo?.signal === 'SIGABRT' || this.exitInfo?.code === 134;
    if (this.killedForMemory || oomKilled || abortedNearLimit) {
      return errorReport('Runtime.OutOfMemory', `${text} (the function used more than its ${this.record.config.memoryMb} MB of memory: raise --memory or use less)`);
    }
    return errorReport('Runtime.ExitError', text);
  }

  private onProcessExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exitInfo = { code, signal };
    // A counter that cannot be read counts as no OOM kill: the exit is then reported as it looks.
    const oom = this.sandbox
      ? this.sandbox.oomKilled().catch((err: unknown) => {
          this.warn('could not read the sandbox\'s OOM counter', err);
          return false;
        })
      : Promise.resolve(false);
    this.oomAtExit = oom;
    const pending = this.pending;
    if (pending) {
      // A runtime may report its last result and then exit (Node does after an uncaught exception);
      // an event handed over in between was never taken, and is not this invocation's failure.
      const notStarted = this.api.holdsUntakenEvent;
      // Reading the OOM counter also lets the last output lines arrive before the log is sealed.
      // oom never rejects (above); fail() settles the waiting invocation.
      oom.then((killed) => this.fail(this.exitReport(pending.requestId, killed), notStarted)).catch((err: unknown) => this.warn('could not settle the invocation of an exited instance', err));
    } else {
      this.terminate();
    }
    // The cgroup is read (above) before it is removed; processes the runtime forked go with it.
    const pid = this.child?.pid;
    const sandbox = this.sandbox;
    if (pid && sandbox) {
      this.released = oom
        .then(() => sandbox.killAll(pid))
        .then(() => sandbox.release())
        .catch((err: unknown) => this.warn('could not release the sandbox of an exited instance', err));
    }
    this.markExited();
    this.options.onExit(this);
  }
}
