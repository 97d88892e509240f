import { chmod } from 'node:fs/promises';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LIMITS } from '../sdk/core/limits';

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
}

/** An error body as a runtime posts it (both `trace` and `stackTrace` spellings occur). */
export interface RuntimeErrorReport {
  errorType: string;
  errorMessage: string;
  stackTrace: string[];
  /** The bytes the runtime sent, returned to the caller unchanged when they are JSON. */
  body: Buffer;
}

/** What the runtime told us; exactly one listener consumes these per instance. */
export interface RuntimeApiListener {
  /** The runtime asked for work: its init finished (first time) or its last invocation ended. */
  onNext(): void;
  onResponse(requestId: string, body: Buffer): void;
  onError(requestId: string, report: RuntimeErrorReport): void;
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

/**
 * The Lambda Runtime API for one instance, on its own loopback port: the runtime can only ever
 * see its own events. Holds at most one pending `next` and one queued event, as one instance
 * runs one invocation at a time.
 */
export class RuntimeApiServer {
  private readonly server: http.Server;
  private unixServer: http.Server | undefined;
  private waiting: http.ServerResponse | undefined;
  private queued: RuntimeEvent | undefined;
  private activeId: string | undefined;
  private initDone = false;

  constructor(private readonly listener: RuntimeApiListener) {
    this.server = http.createServer((req, res) => this.route(req, res));
    this.server.keepAliveTimeout = 0;
    this.server.requestTimeout = 0;
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

  /** Whether an event was delivered but the runtime has not taken it yet (it has not polled since). */
  get holdsUntakenEvent(): boolean {
    return this.queued !== undefined;
  }

  /**
   * Also serves on a Unix socket (readable and writable by anyone who can reach the path): how a
   * sandbox without network reaches its Runtime API.
   */
  async listenUnix(socketPath: string): Promise<void> {
    const server = http.createServer((req, res) => this.route(req, res));
    server.keepAliveTimeout = 0;
    server.requestTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    await chmod(socketPath, 0o666);
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
    for (const server of [this.server, this.unixServer]) {
      server?.closeAllConnections();
      server?.close();
    }
  }

  private flush(): void {
    const res = this.waiting;
    const event = this.queued;
    if (!res || !event) return;
    this.waiting = undefined;
    this.queued = undefined;
    this.activeId = event.requestId;
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
    res.writeHead(200, headers);
    res.end(event.payload);
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === `${PREFIX}/invocation/next`) {
      if (this.waiting) return this.reply(res, 403, 'InvalidStateTransition', 'a next request is already pending');
      this.waiting = res;
      res.on('close', () => {
        if (this.waiting === res) this.waiting = undefined;
      });
      this.activeId = undefined;
      this.initDone = true;
      this.listener.onNext();
      this.flush();
      return;
    }
    if (req.method !== 'POST') return this.reply(res, 404, 'NotFound', `no route for ${req.method} ${url}`);
    const match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (!match && url !== `${PREFIX}/init/error`) return this.reply(res, 404, 'NotFound', `no route for POST ${url}`);
    this.readBody(req, res, (body) => {
      const typeHeader = req.headers['lambda-runtime-function-error-type'];
      const type = Array.isArray(typeHeader) ? typeHeader[0] : typeHeader;
      if (!match) {
        if (this.initDone) return this.reply(res, 403, 'InvalidStateTransition', 'init already finished');
        this.reply(res, 202);
        this.listener.onInitError(parseErrorReport(body, type));
        return;
      }
      let requestId: string | undefined;
      try {
        requestId = decodeURIComponent(match[1] ?? '');
      } catch {
        // Malformed percent-encoding from the runtime must not crash the agent: it matches no invocation.
      }
      if (requestId === undefined || requestId !== this.activeId) return this.reply(res, 400, 'InvalidRequestID', 'Invalid request ID');
      this.activeId = undefined;
      this.reply(res, 202);
      if (match[2] === 'response') this.listener.onResponse(requestId, body);
      else this.listener.onError(requestId, parseErrorReport(body, type));
    });
  }

  private readBody(req: http.IncomingMessage, res: http.ServerResponse, done: (body: Buffer) => void): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY && !refused) {
        refused = true;
        const requestId = this.activeId;
        this.reply(res, 413, 'RequestEntityTooLarge', `Exceeded maximum allowed payload size (${MAX_BODY} bytes).`);
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
      if (!refused) chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) done(Buffer.concat(chunks));
    });
  }

  private reply(res: http.ServerResponse, statusCode: number, errorType?: string, errorMessage?: string): void {
    const body = errorType ? JSON.stringify({ errorType, errorMessage }) : JSON.stringify({ status: 'OK' });
    res.writeHead(statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}
