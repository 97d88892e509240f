/**
 * Minimal HTTP client for the Lambda Runtime API (`/2018-06-01/runtime/...`), Node builtins only.
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorPayload } from './errors';
import { CHANNEL_PATH, CHANNEL_PROTOCOL, encodeFrame, FrameDecoder, FrameType, type Frame, type FrameTypeCode } from './frames';

/** Options for `RuntimeClient`. */
export interface RuntimeClientOptions {
  /** `host:port` from AWS_LAMBDA_RUNTIME_API (IPv6 as `[::1]:9001`). Required. */
  runtimeApi: string;
  /** Limit for each POST; `/next` never times out because the instance may sit idle indefinitely. Default 10 000. */
  postTimeoutMs?: number;
  /**
   * Whether to ask the agent for the frame channel (one upgraded socket instead of an HTTP request
   * per step); an API that does not offer it is spoken to over HTTP. Default true.
   */
  frameChannel?: boolean;
  /**
   * A Unix socket (an abstract name starts with NUL) to open the frame channel on instead of
   * `runtimeApi`'s TCP port; if it cannot be reached, the channel is asked for over TCP.
   */
  channelSocket?: string;
  /**
   * A connection on which the agent already speaks the frame channel (a pre-started runtime's
   * assignment connection), with any bytes already read from it: used as the channel at once.
   */
  openChannel?: { socket: Socket; head: Buffer };
  /**
   * Bytes written so far to stdout and stderr, sent with every result on the frame channel so the
   * agent can read its output pipes up to there before closing the invocation's log tail.
   */
  outputMark?: () => { out: number; err: number } | undefined;
}

/** One event handed out by `/invocation/next`. */
export interface NextInvocation {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** What an invocation ended with, ready to post: a serialised result or an error payload. */
export type OutcomeReport = { kind: 'response'; body: string } | { kind: 'error'; payload: ErrorPayload };

/** What the Runtime API said to a POST the runtime could deliver. */
export type PostResult = { kind: 'accepted' } | { kind: 'refused'; status: number; body: string };

/**
 * The Runtime API could not be reached or answered with a server error. The instance is then useless,
 * so the caller exits and lets the agent replace it.
 */
export class RuntimeApiError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'RuntimeApiError';
  }
}

const API_PREFIX = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';

/** Talks to the Runtime API over one keep-alive socket, one request at a time. */
export class RuntimeClient {
  private readonly hostname: string;
  private readonly port: number;
  private readonly postTimeoutMs: number;
  // One socket, reused. Node unrefs idle keep-alive sockets, so it never keeps the event loop alive
  // while a handler runs; callbackWaitsForEmptyEventLoop depends on that.
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  /** The frame channel once open; 'unavailable' when the API does not offer it (or it is turned off). */
  private channel: FrameChannel | 'unavailable' | undefined;
  private readonly channelSocket: string | undefined;
  private readonly outputMark: () => { out: number; err: number } | undefined;

  constructor(options: RuntimeClientOptions) {
    const url = new URL(`http://${options.runtimeApi}`);
    this.hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(url.port || 80);
    this.postTimeoutMs = options.postTimeoutMs ?? 10_000;
    if (options.frameChannel === false) this.channel = 'unavailable';
    else if (options.openChannel) this.channel = new FrameChannel(options.openChannel.socket, options.openChannel.head);
    this.channelSocket = options.channelSocket;
    this.outputMark = options.outputMark ?? (() => undefined);
  }

  /** How this client talks to the Runtime API: frames once the channel is open, else HTTP. */
  get transport(): 'frames' | 'http' | 'undecided' {
    return this.channel === undefined ? 'undecided' : this.channel === 'unavailable' ? 'http' : 'frames';
  }

  /** Long-polls for the next event; anything but 200 means the instance should stop. */
  async nextInvocation(): Promise<NextInvocation> {
    if (this.channel === undefined) {
      const viaSocket = this.channelSocket === undefined ? undefined : await this.openChannel({ socketPath: this.channelSocket }).catch(() => undefined);
      this.channel = viaSocket ?? (await this.openChannel({ hostname: this.hostname, port: this.port })) ?? 'unavailable';
    }
    if (this.channel !== 'unavailable') {
      const frame = await this.channel.exchange(FrameType.next, {}, undefined, 0, FrameType.event);
      return { headers: frame.header as http.IncomingHttpHeaders, body: frame.body };
    }
    const { status, headers, body } = await this.request('GET', `${API_PREFIX}/invocation/next`, {});
    if (status !== 200) {
      throw new RuntimeApiError(`GET /invocation/next returned ${status}: ${body.toString('utf8').slice(0, 500)}`);
    }
    return { headers, body };
  }

  /** Posts a successful result; `body` is already serialised JSON. */
  postResponse(requestId: string, body: string): Promise<PostResult> {
    if (this.channel instanceof FrameChannel) return this.postFrame(FrameType.response, requestId, { kind: 'response', body });
    return this.post(`${API_PREFIX}/invocation/${encodeURIComponent(requestId)}/response`, body, {});
  }

  /** Posts an invocation failure. The type header is optional on the wire but saves the agent a parse. */
  postInvocationError(requestId: string, payload: ErrorPayload): Promise<PostResult> {
    if (this.channel instanceof FrameChannel) return this.postFrame(FrameType.error, requestId, { kind: 'error', payload });
    return this.post(`${API_PREFIX}/invocation/${encodeURIComponent(requestId)}/error`, JSON.stringify(payload), {
      [ERROR_TYPE_HEADER]: headerSafe(payload.errorType),
    });
  }

  /** Posts an initialisation failure; the runtime exits afterwards. */
  postInitError(payload: ErrorPayload): Promise<PostResult> {
    return this.post(`${API_PREFIX}/init/error`, JSON.stringify(payload), {
      [ERROR_TYPE_HEADER]: headerSafe(payload.errorType),
    });
  }

  /**
   * Posts a result or an invocation error and waits for the next event, as `postResponse` or
   * `postInvocationError` followed by `nextInvocation`. On the frame channel that is one frame
   * (RESPONSE_NEXT / ERROR_NEXT), which the agent answers with the event alone unless it refuses
   * the post. `onPosted` runs once the post has left this process (written to the socket, or over
   * HTTP answered): a runtime that must exit after its post exits there.
   */
  async postThenNext(requestId: string, report: OutcomeReport, onPosted: () => void): Promise<{ posted: PostResult; next: NextInvocation }> {
    const channel = this.channel;
    if (!(channel instanceof FrameChannel)) {
      const posted = report.kind === 'response' ? await this.postResponse(requestId, report.body) : await this.postInvocationError(requestId, report.payload);
      onPosted();
      return { posted, next: await this.nextInvocation() };
    }
    // Asked for before the frame goes, so an event that arrives in the same chunk as a refusal waits in the inbox.
    const first = channel.receive([FrameType.reply, FrameType.event], 0);
    const { header, body } = this.reportFrame(requestId, report);
    channel.send(report.kind === 'response' ? FrameType.responseNext : FrameType.errorNext, header, body, onPosted);
    let posted: PostResult = { kind: 'accepted' };
    let frame = await first;
    if (frame.type === FrameType.reply) {
      posted = this.replyVerdict(report.kind, frame);
      frame = await channel.receive([FrameType.event], 0);
    }
    return { posted, next: { headers: frame.header as http.IncomingHttpHeaders, body: frame.body } };
  }

  /** A RESPONSE or ERROR frame, answered by a REPLY frame that says what HTTP would have. */
  private async postFrame(type: FrameTypeCode, requestId: string, report: OutcomeReport): Promise<PostResult> {
    const { header, body } = this.reportFrame(requestId, report);
    const reply = await (this.channel as FrameChannel).exchange(type, header, body, this.postTimeoutMs, FrameType.reply);
    return this.replyVerdict(report.kind, reply);
  }

  /** Header and body of the frame that posts `report` (RESPONSE or ERROR, plain or _NEXT). */
  private reportFrame(requestId: string, report: OutcomeReport): { header: Record<string, unknown>; body: Buffer } {
    if (report.kind === 'response') return { header: { requestId, ...this.outputMark() }, body: Buffer.from(report.body, 'utf8') };
    // The type in the header is optional on the wire but saves the agent a parse.
    return { header: { requestId, errorType: headerSafe(report.payload.errorType), ...this.outputMark() }, body: Buffer.from(JSON.stringify(report.payload), 'utf8') };
  }

  /** What a REPLY frame says, as the HTTP status it stands for would. */
  private replyVerdict(kind: OutcomeReport['kind'], reply: Frame): PostResult {
    return this.verdict(`${kind} frame`, { status: Number(reply.header.status), body: Buffer.from(String(reply.header.body ?? ''), 'utf8') });
  }

  /**
   * Asks to upgrade a connection to the frame channel. Resolves undefined when the API answers
   * anything but 101: it only speaks HTTP. Failing to connect at all is the same failure HTTP has.
   */
  private openChannel(where: { socketPath: string } | { hostname: string; port: number }): Promise<FrameChannel | undefined> {
    return new Promise((resolve, reject) => {
      const req = http.request({
        ...where,
        method: 'GET',
        path: CHANNEL_PATH,
        headers: { connection: 'Upgrade', upgrade: CHANNEL_PROTOCOL },
        agent: false,
      });
      req.on('upgrade', (_res, socket: Socket, head: Buffer) => resolve(new FrameChannel(socket, head)));
      req.on('response', (res) => {
        res.resume();
        resolve(undefined);
      });
      const target = 'socketPath' in where ? `unix:${where.socketPath.replace('\0', '@')}` : `http://${where.hostname}:${where.port}`;
      req.on('error', (err) => reject(new RuntimeApiError(`GET ${target}${CHANNEL_PATH} failed: ${err.message}`, err)));
      req.end();
    });
  }

  private async post(path: string, body: string, headers: http.OutgoingHttpHeaders): Promise<PostResult> {
    const res = await this.request('POST', path, { headers, body, timeoutMs: this.postTimeoutMs });
    return this.verdict(`POST ${path}`, res);
  }

  private verdict(what: string, res: { status: number; body: Buffer }): PostResult {
    if (res.status >= 200 && res.status < 300) return { kind: 'accepted' };
    // 5xx is the documented "container error, exit"; 4xx (payload too large, wrong state, bad id) is a
    // verdict on this one result that the agent has already acted on, so the runtime carries on.
    if (res.status >= 500) {
      throw new RuntimeApiError(`${what} returned ${res.status}: ${res.body.toString('utf8').slice(0, 500)}`);
    }
    return { kind: 'refused', status: res.status, body: res.body.toString('utf8').slice(0, 500) };
  }

  private request(
    method: 'GET' | 'POST',
    path: string,
    opts: { headers?: http.OutgoingHttpHeaders; body?: string; timeoutMs?: number },
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const payload = opts.body === undefined ? undefined : Buffer.from(opts.body, 'utf8');
      const headers: http.OutgoingHttpHeaders = { ...opts.headers };
      if (payload) {
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = payload.length;
      }
      const req = http.request(
        { hostname: this.hostname, port: this.port, method, path, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', (err) => reject(new RuntimeApiError(`${method} ${path}: response failed: ${err.message}`, err)));
        },
      );
      // 0 clears any idle timeout left on the reused socket: the long poll must be allowed to wait forever.
      req.setTimeout(opts.timeoutMs ?? 0, () => {
        req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`));
      });
      req.on('error', (err) =>
        reject(new RuntimeApiError(`${method} http://${this.hostname}:${this.port}${path} failed: ${err.message}`, err)),
      );
      req.end(payload);
    });
  }
}

// Header values must be visible ASCII; an error name is user-controlled and may hold anything.
function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

/**
 * The upgraded socket: one exchange at a time (the runtime does one step at a time), each a frame
 * out and the expected frame back. The socket is referenced only while an exchange waits, as an
 * HTTP request would be: an idle channel never keeps the event loop alive while a handler runs,
 * which callbackWaitsForEmptyEventLoop depends on.
 */
class FrameChannel {
  private waiter: { expect: readonly number[]; resolve: (f: Frame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout | undefined } | undefined;
  /** Frames that arrived before anyone asked for them (one data chunk may hold a REPLY and an EVENT). */
  private readonly inbox: Frame[] = [];
  private failure: RuntimeApiError | undefined;
  private readonly decoder: FrameDecoder;

  constructor(
    private readonly socket: Socket,
    head: Buffer,
  ) {
    socket.setNoDelay(true);
    socket.unref();
    this.decoder = new FrameDecoder(Number.MAX_SAFE_INTEGER, (f) => this.onFrame(f), () => undefined);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.push(chunk);
      } catch (err) {
        this.fail(new RuntimeApiError(`the Runtime API channel sent a malformed frame: ${(err as Error).message}`, err));
      }
    });
    socket.on('error', (err) => this.fail(new RuntimeApiError(`the Runtime API channel failed: ${err.message}`, err)));
    socket.on('close', () => this.fail(new RuntimeApiError('the Runtime API channel closed')));
    // A connection handed over paused (so nothing read before this was lost) flows from here.
    socket.resume();
    if (head.length > 0) this.decoder.push(head);
  }

  /** Sends a frame and resolves with the next frame, which must be of type `expect`; `timeoutMs` 0 waits forever. */
  exchange(type: FrameTypeCode, header: Record<string, unknown>, body: Buffer | undefined, timeoutMs: number, expect: number): Promise<Frame> {
    if (this.failure) return Promise.reject(this.failure);
    this.send(type, header, body);
    return this.receive([expect], timeoutMs);
  }

  /** Sends a frame without waiting for an answer; `onWritten` runs once the bytes are handed to the kernel. */
  send(type: FrameTypeCode, header: Record<string, unknown>, body: Buffer | undefined, onWritten?: () => void): void {
    if (this.failure) return;
    this.socket.write(encodeFrame(type, header, body), onWritten && ((err?: Error | null) => void (err ? undefined : onWritten())));
  }

  /** Resolves with the next frame, which must be of one of the types in `expect`; `timeoutMs` 0 waits forever. */
  receive(expect: readonly number[], timeoutMs: number): Promise<Frame> {
    if (this.failure) return Promise.reject(this.failure);
    const queued = this.inbox.shift();
    if (queued) return this.check(queued, expect) ? Promise.resolve(queued) : Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = timeoutMs > 0 ? setTimeout(() => this.fail(new RuntimeApiError(`no answer on the Runtime API channel within ${timeoutMs} ms`)), timeoutMs) : undefined;
      this.waiter = { expect, resolve, reject, timer };
      // Referenced only while waiting: an idle channel must not keep a finished handler's event loop alive.
      this.socket.ref();
    });
  }

  private onFrame(frame: Frame): void {
    const w = this.settle();
    if (!w) {
      this.inbox.push(frame);
      return;
    }
    if (this.check(frame, w.expect)) w.resolve(frame);
    else w.reject(this.failure as RuntimeApiError);
  }

  /** Whether `frame` is of an expected type; if not, the channel is out of step and fails. */
  private check(frame: Frame, expect: readonly number[]): boolean {
    if (expect.includes(frame.type)) return true;
    this.fail(new RuntimeApiError(`the Runtime API channel sent frame type ${frame.type}, expected ${expect.join(' or ')}`));
    return false;
  }

  private settle(): FrameChannel['waiter'] {
    const w = this.waiter;
    this.waiter = undefined;
    if (w) clearTimeout(w.timer);
    this.socket.unref();
    return w;
  }

  private fail(err: RuntimeApiError): void {
    this.failure ??= err;
    this.settle()?.reject(this.failure);
    this.socket.destroy();
  }
}
