import { chmod } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { LIMITS } from '../../sdk/core/limits';
import { CHANNEL_PATH, CHANNEL_PROTOCOL, encodeFrame, FrameDecoder, FrameType, type Frame } from '../runtimes/nodejs/frames';

/** An event handed to the runtime on its next `GET /runtime/invocation/next`. */
export interface RuntimeEvent {
  requestId: string;
  payload: Buffer;
  deadlineMs: number;
  invokedFunctionArn: string;
  xrayTraceId?: string;
  traceparent?: string;
  tracestate?: string;
  clientContext?: string;
  /** Execution-role credentials of this invocation, as the Stratus-Session-Token header. */
  sessionToken?: string;
  /** The router API address, as the Stratus-Api-Endpoint header. */
  apiEndpoint?: string;
}

/** An error body as a runtime posts it (both `trace` and `stackTrace` spellings occur). */
export interface RuntimeErrorReport {
  errorType: string;
  errorMessage: string;
  stackTrace: string[];
  /** The bytes the runtime sent, returned to the caller unchanged when they are JSON. */
  body: Buffer;
}

/**
 * How many bytes the runtime had written to its stdout and stderr when it posted a result: the
 * agent reads its output pipes up to there before it closes the invocation's log tail, so lines
 * logged just before the result cannot arrive after it (the pipes and the channel race).
 */
export interface OutputMark {
  out: number;
  err: number;
}

/** What the runtime told us; exactly one listener consumes these per instance. */
export interface RuntimeApiListener {
  /** The runtime asked for work: its init finished (first time) or its last invocation ended. */
  onNext(): void;
  onResponse(requestId: string, body: Buffer, mark?: OutputMark): void;
  onError(requestId: string, report: RuntimeErrorReport, mark?: OutputMark): void;
  onInitError(report: RuntimeErrorReport): void;
}

const PREFIX = '/2018-06-01/runtime';
const MAX_BODY = LIMITS.maxSyncPayloadBytes + 100;

function parseErrorReport(body: Buffer, typeHeader: string | undefined): RuntimeErrorReport {
  let parsed: { errorType?: unknown; errorMessage?: unknown; trace?: unknown; stackTrace?: unknown } = {};
  try {
    // `null` is valid JSON too; only an object can carry the fields.
    parsed = JSON.parse(body.toString('utf8') || '{}') ?? {};
  } catch {
    // An unreadable body: Lambda then builds the error from the type header alone.
  }
  const stack = Array.isArray(parsed.stackTrace) ? parsed.stackTrace : Array.isArray(parsed.trace) ? parsed.trace : [];
  const errorType = typeof parsed.errorType === 'string' && parsed.errorType ? parsed.errorType : typeHeader || 'Runtime.Unknown';
  const errorMessage = typeof parsed.errorMessage === 'string' ? parsed.errorMessage : '';
  const normalized = Buffer.from(JSON.stringify({ errorType, errorMessage, trace: stack.map(String) }));
  return { errorType, errorMessage, stackTrace: stack.map(String), body: parsed.errorType === undefined ? normalized : body };
}

/** A runtime waiting for its next event: an HTTP long poll or a frame channel. */
interface Waiter {
  deliver(event: RuntimeEvent): void;
  destroy(): void;
}

/** The headers `/invocation/next` carries for an event (also the header of an EVENT frame). */
function eventHeaders(event: RuntimeEvent): http.OutgoingHttpHeaders {
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/json',
    'content-length': event.payload.length,
    'lambda-runtime-aws-request-id': event.requestId,
    'lambda-runtime-deadline-ms': String(event.deadlineMs),
    'lambda-runtime-invoked-function-arn': event.invokedFunctionArn,
  };
  if (event.xrayTraceId) headers['lambda-runtime-trace-id'] = event.xrayTraceId;
  if (event.traceparent) headers.traceparent = event.traceparent;
  if (event.tracestate) headers.tracestate = event.tracestate;
  if (event.clientContext) headers['lambda-runtime-client-context'] = event.clientContext;
  if (event.sessionToken) headers['stratus-session-token'] = event.sessionToken;
  if (event.apiEndpoint) headers['stratus-api-endpoint'] = event.apiEndpoint;
  return headers;
}

/** The output mark a RESPONSE or ERROR frame's header carries, if it carries a valid one. */
function outputMark(header: Record<string, unknown>): OutputMark | undefined {
  const { out, err } = header;
  return Number.isSafeInteger(out) && Number.isSafeInteger(err) && (out as number) >= 0 && (err as number) >= 0 ? { out: out as number, err: err as number } : undefined;
}

/** How a POST (or its frame) is answered: status, and an error body for refusals. */
type Reply = (statusCode: number, errorType?: string, errorMessage?: string) => void;

function replyBody(errorType?: string, errorMessage?: string): string {
  return errorType ? JSON.stringify({ errorType, errorMessage }) : JSON.stringify({ status: 'OK' });
}

/**
 * The Lambda Runtime API for one instance, on its own loopback port: the runtime can only ever
 * see its own events. Holds at most one pending `next` and one queued event, as one instance
 * runs one invocation at a time. The built-in Node.js runtime may upgrade its connection to a
 * frame channel (runtimes/nodejs/frames.ts) carrying the same steps with the same rules.
 */
export class RuntimeApiServer {
  private readonly server: http.Server;
  private unixServer: http.Server | undefined;
  private waiting: Waiter | undefined;
  private readonly channels = new Set<Duplex>();
  private queued: RuntimeEvent | undefined;
  private activeId: string | undefined;
  private initDone = false;

  constructor(private readonly listener: RuntimeApiListener) {
    this.server = http.createServer((req, res) => this.route(req, res));
    this.server.keepAliveTimeout = 0;
    this.server.requestTimeout = 0;
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
  }

  /** Listens on 127.0.0.1 and returns `host:port` for AWS_LAMBDA_RUNTIME_API. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    return `127.0.0.1:${port}`;
  }

  /** Serves a connection that reached this instance some other way (its sandbox's own endpoint). */
  accept(socket: Duplex): void {
    this.server.emit('connection', socket);
  }

  /** Whether an event was delivered but the runtime has not taken it yet (it has not polled since). */
  get holdsUntakenEvent(): boolean {
    return this.queued !== undefined;
  }

  /**
   * Also serves on a Unix socket: a file path (made readable and writable by anyone who can reach
   * it) is how a sandbox without network reaches its Runtime API; an abstract name (starting with
   * NUL, reachable from the agent's network namespace only) is the built-in Node.js runtime's
   * cheaper way to its frame channel.
   */
  async listenUnix(socketPath: string): Promise<void> {
    const server = http.createServer((req, res) => this.route(req, res));
    server.keepAliveTimeout = 0;
    server.requestTimeout = 0;
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    if (!socketPath.startsWith('\0')) await chmod(socketPath, 0o666);
    this.unixServer = server;
  }

  /** Hands an event to the runtime: at once if it is polling, else on its next poll. */
  deliver(event: RuntimeEvent): void {
    this.queued = event;
    this.flush();
  }

  /** Stops listening and drops every open connection. */
  close(): void {
    this.waiting?.destroy();
    this.waiting = undefined;
    for (const channel of this.channels) channel.destroy();
    this.channels.clear();
    for (const server of [this.server, this.unixServer]) {
      server?.closeAllConnections();
      server?.close();
    }
  }

  private flush(): void {
    const waiter = this.waiting;
    const event = this.queued;
    if (!waiter || !event) return;
    this.waiting = undefined;
    this.queued = undefined;
    this.activeId = event.requestId;
    waiter.deliver(event);
  }

  /** The runtime asks for work: at most one ask may be pending. */
  private next(waiter: Waiter): boolean {
    if (this.waiting) return false;
    this.waiting = waiter;
    this.activeId = undefined;
    this.initDone = true;
    this.listener.onNext();
    this.flush();
    return true;
  }

  /** A result or error for `rawId`, checked against the invocation the runtime holds. */
  private post(kind: 'response' | 'error', rawId: string, body: Buffer, typeHeader: string | undefined, reply: Reply, mark?: OutputMark): void {
    let requestId: string | undefined;
    try {
      requestId = decodeURIComponent(rawId);
    } catch {
      // Malformed percent-encoding from the runtime must not crash the agent: it matches no invocation.
    }
    if (requestId === undefined || requestId !== this.activeId) return reply(400, 'InvalidRequestID', 'Invalid request ID');
    this.activeId = undefined;
    reply(202);
    if (kind === 'response') this.listener.onResponse(requestId, body, mark);
    else this.listener.onError(requestId, parseErrorReport(body, typeHeader), mark);
  }

  /** A body over the limit: refused, and the invocation the runtime holds fails as Lambda's does. */
  private tooLarge(reply: Reply): void {
    const requestId = this.activeId;
    reply(413, 'RequestEntityTooLarge', `Exceeded maximum allowed payload size (${MAX_BODY} bytes).`);
    if (requestId) {
      this.activeId = undefined;
      const message = `Response payload size exceeded maximum allowed payload size (${MAX_BODY} bytes).`;
      this.listener.onError(requestId, {
        errorType: 'Function.ResponseSizeTooLarge',
        errorMessage: message,
        stackTrace: [],
        body: Buffer.from(JSON.stringify({ errorType: 'Function.ResponseSizeTooLarge', errorMessage: message })),
      });
    }
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === `${PREFIX}/invocation/next`) {
      const waiter: Waiter = {
        deliver: (event) => {
          res.writeHead(200, eventHeaders(event));
          res.end(event.payload);
        },
        destroy: () => res.destroy(),
      };
      if (!this.next(waiter)) return this.reply(res, 403, 'InvalidStateTransition', 'a next request is already pending');
      res.on('close', () => {
        if (this.waiting === waiter) this.waiting = undefined;
      });
      return;
    }
    if (req.method !== 'POST') return this.reply(res, 404, 'NotFound', `no route for ${req.method} ${url}`);
    const match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (!match && url !== `${PREFIX}/init/error`) return this.reply(res, 404, 'NotFound', `no route for POST ${url}`);
    const reply: Reply = (statusCode, errorType, errorMessage) => this.reply(res, statusCode, errorType, errorMessage);
    this.readBody(req, () => this.tooLarge(reply), (body) => {
      const typeHeader = req.headers['lambda-runtime-function-error-type'];
      const type = Array.isArray(typeHeader) ? typeHeader[0] : typeHeader;
      if (!match) {
        if (this.initDone) return this.reply(res, 403, 'InvalidStateTransition', 'init already finished');
        this.reply(res, 202);
        this.listener.onInitError(parseErrorReport(body, type));
        return;
      }
      this.post(match[2] as 'response' | 'error', match[1] ?? '', body, type, reply);
    });
  }

  /**
   * Switches a connection to the frame channel, for the built-in Node.js runtime. The frames map
   * one to one onto the HTTP steps above and go through the same checks.
   */
  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    if (req.url !== CHANNEL_PATH || req.headers.upgrade?.toLowerCase() !== CHANNEL_PROTOCOL) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${CHANNEL_PROTOCOL}\r\n\r\n`);
    this.serveChannel(socket, head);
  }

  /**
   * Speaks the frame channel on a connection the runtime already has, with no HTTP upgrade: how a
   * pre-started Node.js runtime keeps the socket its assignment came on (prestart-pool.ts).
   */
  attachChannel(socket: Duplex): void {
    this.serveChannel(socket, Buffer.alloc(0));
  }

  private serveChannel(socket: Duplex, head: Buffer): void {
    this.channels.add(socket);
    (socket as Socket).setNoDelay?.(true);
    const send = (type: (typeof FrameType)[keyof typeof FrameType], header: Record<string, unknown>, body?: Buffer): void => {
      if (!socket.destroyed) socket.write(encodeFrame(type, header, body));
    };
    const reply: Reply = (statusCode, errorType, errorMessage) => send(FrameType.reply, { status: statusCode, body: replyBody(errorType, errorMessage) });
    // For RESPONSE_NEXT / ERROR_NEXT: an accepted post is answered by the next event alone.
    const refusalOnly: Reply = (statusCode, errorType, errorMessage) => {
      if (statusCode !== 202) reply(statusCode, errorType, errorMessage);
    };
    const waiter: Waiter = {
      // Header values as an HTTP client would see them: strings.
      deliver: (event) => send(FrameType.event, Object.fromEntries(Object.entries(eventHeaders(event)).map(([k, v]) => [k, String(v)])), event.payload),
      destroy: () => socket.destroy(),
    };
    const onFrame = (frame: Frame): void => {
      switch (frame.type) {
        case FrameType.next:
          // A second pending ask is a protocol violation, as HTTP's 403; the channel has no way to say so but to end.
          if (!this.next(waiter)) socket.destroy();
          return;
        case FrameType.response:
        case FrameType.error:
        case FrameType.responseNext:
        case FrameType.errorNext: {
          const thenNext = frame.type === FrameType.responseNext || frame.type === FrameType.errorNext;
          const answer = thenNext ? refusalOnly : reply;
          if (frame.body.length > MAX_BODY) this.tooLarge(answer);
          else {
            this.post(
              frame.type === FrameType.response || frame.type === FrameType.responseNext ? 'response' : 'error',
              encodeURIComponent(String(frame.header.requestId ?? '')),
              frame.body,
              typeof frame.header.errorType === 'string' ? frame.header.errorType : undefined,
              answer,
              outputMark(frame.header),
            );
          }
          if (thenNext && !this.next(waiter)) socket.destroy();
          return;
        }
        default:
          socket.destroy();
      }
    };
    const decoder = new FrameDecoder(MAX_BODY + 64 * 1024, onFrame, (type) => {
      if (type === FrameType.response || type === FrameType.error) this.tooLarge(reply);
      else if (type === FrameType.responseNext || type === FrameType.errorNext) {
        this.tooLarge(refusalOnly);
        if (!this.next(waiter)) socket.destroy();
      } else socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        socket.destroy();
      }
    });
    socket.on('close', () => {
      this.channels.delete(socket);
      if (this.waiting === waiter) this.waiting = undefined;
    });
    socket.on('error', () => socket.destroy());
    if (head.length > 0) socket.emit('data', head);
  }

  private readBody(req: http.IncomingMessage, onTooLarge: () => void, done: (body: Buffer) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY && !refused) {
        refused = true;
        onTooLarge();
      }
      if (!refused) chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) done(Buffer.concat(chunks));
    });
  }

  private reply(res: http.ServerResponse, statusCode: number, errorType?: string, errorMessage?: string): void {
    const body = replyBody(errorType, errorMessage);
    res.writeHead(statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}
