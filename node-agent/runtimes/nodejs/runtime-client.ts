/**
 * Minimal HTTP client for the Lambda Runtime API (`/2018-06-01/runtime/...`), Node builtins only.
 */
import * as http from 'node:http';
import type { ErrorPayload } from './errors';

/** Options for `RuntimeClient`. */
export interface RuntimeClientOptions {
  /** `host:port` from AWS_LAMBDA_RUNTIME_API (IPv6 as `[::1]:9001`). Required. */
  runtimeApi: string;
  /** Limit for each POST; `/next` never times out because the instance may sit idle indefinitely. Default 10 000. */
  postTimeoutMs?: number;
}

/** One event handed out by `/invocation/next`. */
export interface NextInvocation {
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

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

  constructor(options: RuntimeClientOptions) {
    const url = new URL(`http://${options.runtimeApi}`);
    this.hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(url.port || 80);
    this.postTimeoutMs = options.postTimeoutMs ?? 10_000;
  }

  /** Long-polls for the next event; anything but 200 means the instance should stop. */
  async nextInvocation(): Promise<NextInvocation> {
    const { status, headers, body } = await this.request('GET', `${API_PREFIX}/invocation/next`, {});
    if (status !== 200) {
      throw new RuntimeApiError(`GET /invocation/next returned ${status}: ${body.toString('utf8').slice(0, 500)}`);
    }
    return { headers, body };
  }

  /** Posts a successful result; `body` is already serialised JSON. */
  postResponse(requestId: string, body: string): Promise<PostResult> {
    return this.post(`${API_PREFIX}/invocation/${encodeURIComponent(requestId)}/response`, body, {});
  }

  /** Posts an invocation failure. The type header is optional on the wire but saves the agent a parse. */
  postInvocationError(requestId: string, payload: ErrorPayload): Promise<PostResult> {
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

  private async post(path: string, body: string, headers: http.OutgoingHttpHeaders): Promise<PostResult> {
    const res = await this.request('POST', path, { headers, body, timeoutMs: this.postTimeoutMs });
    if (res.status >= 200 && res.status < 300) return { kind: 'accepted' };
    // 5xx is the documented "container error, exit"; 4xx (payload too large, wrong state, bad id) is a
    // verdict on this one result that the agent has already acted on, so the runtime carries on.
    if (res.status >= 500) {
      throw new RuntimeApiError(`POST ${path} returned ${res.status}: ${res.body.toString('utf8').slice(0, 500)}`);
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
