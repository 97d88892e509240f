import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** An event the recording Runtime API hands to the runtime on its next poll. */
export interface QueuedEvent {
  requestId: string;
  body?: string;
  headers?: Record<string, string>;
}

/** One post a runtime made (response, error or init error). */
export interface Post {
  kind: 'response' | 'error' | 'init-error';
  requestId?: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
  /** What `snapshot` returned when the request arrived, before its body was read. */
  seenBefore: string;
}

/** Polls `check` every 10 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A real Lambda Runtime API server for testing runtime clients (the Node and Python bootstraps):
 * hands out queued events and records every post, so a test can assert exactly what a runtime sent.
 */
export class RecordingRuntimeApi {
  readonly posts: Post[] = [];
  readonly servedAt = new Map<string, number>();
  nextCalls = 0;
  /** Called as each post arrives, to capture what the runtime had written by then. */
  snapshot: () => string = () => '';
  private readonly queue: QueuedEvent[] = [];
  private readonly parked: http.ServerResponse[] = [];
  private readonly server = http.createServer((req, res) => this.route(req, res));

  constructor(private readonly invokedFunctionArn = 'arn:aws:lambda:us-east-1:123456789012:function:fn-test') {}

  /** Listens on a free loopback port; returns host:port for AWS_LAMBDA_RUNTIME_API. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Queues an event, or hands it at once to a runtime waiting on /next. */
  enqueue(event: QueuedEvent): void {
    const waiting = this.parked.shift();
    if (waiting) this.serve(waiting, event);
    else this.queue.push(event);
  }

  /** The first post matching `predicate`, waiting for it. */
  async waitForPost(predicate: (p: Post) => boolean, timeoutMs = 10_000): Promise<Post> {
    let found: Post | undefined;
    await waitUntil(() => (found = this.posts.find(predicate)) !== undefined, timeoutMs, 'expected post');
    return found as Post;
  }

  /** The response or error posted for a request. */
  result(requestId: string): Promise<Post> {
    return this.waitForPost((p) => p.requestId === requestId);
  }

  /** Drops every open connection, parked long polls included, as a restarting server would. */
  dropConnections(): void {
    this.parked.length = 0;
    this.server.closeAllConnections();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse): void {
    const seenBefore = this.snapshot();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      if (req.method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
        this.nextCalls += 1;
        const event = this.queue.shift();
        if (event) this.serve(res, event);
        else this.parked.push(res);
        return;
      }
      const match = /^\/2018-06-01\/runtime\/(?:invocation\/([^/]+)\/(response|error)|init\/error)$/.exec(url);
      if (req.method !== 'POST' || !match) {
        res.writeHead(404).end();
        return;
      }
      this.posts.push({
        kind: match[2] === 'response' ? 'response' : match[2] === 'error' ? 'error' : 'init-error',
        requestId: match[1] === undefined ? undefined : decodeURIComponent(match[1]),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
        seenBefore,
      });
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"OK"}');
    });
  }

  private serve(res: http.ServerResponse, event: QueuedEvent): void {
    this.servedAt.set(event.requestId, Date.now());
    res.writeHead(200, {
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': event.requestId,
      'lambda-runtime-deadline-ms': String(Date.now() + 30_000),
      'lambda-runtime-invoked-function-arn': this.invokedFunctionArn,
      ...event.headers,
    });
    res.end(event.body ?? '{}');
  }
}
