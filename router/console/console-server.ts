import { promises as fs } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { StratusError, toStratusError } from '../../sdk/core/errors';
import { LogLine } from '../../proto/gen/stratus/v1/observability';
import type { Logger } from '../../sdk/platform/logger';
import { TO_HTTP_STATUS } from './http-status';
import { parseConfigEdit, type ConsoleApi } from './console-api';

/** Options for {@link ConsoleServer}. */
export interface ConsoleServerOptions {
  /** Folder of index.html, app.js and app.css. */
  staticDir: string;
  /** Mark the cookie Secure (the router serves HTTPS). */
  secureCookie: boolean;
  /** How long a console login lasts. Default 12 h. */
  sessionMaxAgeSeconds: number;
}

const COOKIE = 'stratus_console';
/** Most bytes of a console request body (a test-invoke payload is at most 6 MB, as a sync invoke). */
const MAX_BODY_BYTES = 6 * 1024 * 1024 + 1024;
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

function cookieToken(req: IncomingMessage): string {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return decodeURIComponent(v.join('='));
  }
  return '';
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, err: StratusError): void {
  send(res, TO_HTTP_STATUS[err.code] ?? 500, { error: { code: err.code, message: err.message } });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new StratusError('PayloadTooLarge', `the request is over ${MAX_BODY_BYTES} bytes: send a smaller payload`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new StratusError('InvalidRequest', 'the request body is not JSON');
  }
}

/**
 * The web console at /console: static pages (no framework, no CDN: everything comes from this
 * router) and a small JSON API that calls the router's own gRPC handlers as the logged-in
 * principal. Login takes an API token and keeps it in an HTTP-only, SameSite=Strict cookie scoped
 * to /console; every API call checks it anew (a revoked token stops working at once), and changes
 * must carry the X-Stratus-Console header, which a cross-site form cannot send.
 */
export class ConsoleServer {
  private readonly files = new Map<string, Buffer>();

  constructor(
    private readonly api: ConsoleApi,
    private readonly logger: Logger,
    private readonly options: ConsoleServerOptions,
  ) {}

  /** Reads the static files once, at start-up. */
  async load(): Promise<void> {
    for (const name of await fs.readdir(this.options.staticDir)) this.files.set(name, await fs.readFile(path.join(this.options.staticDir, name)));
    if (!this.files.has('index.html')) throw new Error(`the console's files are missing from ${this.options.staticDir}: rebuild (npm run build)`);
  }

  /** Whether a request is the console's. */
  owns(url: string): boolean {
    return url === '/console' || url.startsWith('/console/') || url.startsWith('/console?');
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.route(req, res).catch((err: unknown) => {
      const e = toStratusError(err);
      if (e.code === 'Internal') this.logger.error('console request failed', { url: req.url, err: e });
      if (!res.headersSent) sendError(res, e);
      else res.end();
    });
  };

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console');
    const p = url.pathname;
    const method = req.method ?? 'GET';
    if (method === 'GET' && (p === '/console' || p === '/console/')) return this.file(res, 'index.html');
    const asset = /^\/console\/static\/([\w.-]+)$/.exec(p);
    if (method === 'GET' && asset) return this.file(res, asset[1]!);
    // A cross-site form can post text, never JSON: requiring it keeps other sites from logging a
    // browser in (as someone else) or out.
    if (method !== 'GET' && !(req.headers['content-type'] ?? '').startsWith('application/json')) throw new StratusError('InvalidRequest', 'send console requests as JSON (Content-Type: application/json)');
    if (p === '/console/login' && method === 'POST') return this.login(req, res);
    if (p === '/console/logout' && method === 'POST') return send(res, 200, { ok: true }, { 'set-cookie': this.cookie('', 0) });
    if (!p.startsWith('/console/api/')) return send(res, 404, { error: { code: 'ResourceNotFound', message: `no console page at ${p}` } });
    const token = cookieToken(req);
    if (!token) throw new StratusError('Unauthenticated', 'log in to the console first (POST /console/login with an API token)');
    if (method !== 'GET' && req.headers['x-stratus-console'] !== '1') throw new StratusError('AccessDenied', 'console changes must come from the console page (the X-Stratus-Console header is missing)');
    return this.apiCall(req, res, method, p.slice('/console/api'.length), url, token);
  }

  private async apiCall(req: IncomingMessage, res: ServerResponse, method: string, p: string, url: URL, token: string): Promise<void> {
    const api = this.api;
    let m: RegExpExecArray | null;
    if (method === 'GET' && p === '/me') return send(res, 200, await api.whoami(token));
    if (method === 'GET' && p === '/functions') return send(res, 200, await api.functions(token));
    if (method === 'GET' && p === '/cluster') return send(res, 200, await api.cluster(token));
    if ((m = /^\/functions\/([\w-]+)$/.exec(p))) {
      if (method === 'GET') return send(res, 200, await api.function(token, m[1]!));
      if (method === 'PATCH') return send(res, 200, await api.updateFunction(token, m[1]!, parseConfigEdit(await readJson(req))));
    }
    if (method === 'POST' && (m = /^\/functions\/([\w-]+)\/invoke$/.exec(p))) {
      const body = (await readJson(req)) as { payload?: unknown };
      // A page that goes away cancels the invocation, as a CLI caller's Ctrl-C does.
      const gone = new AbortController();
      res.on('close', () => res.writableEnded || gone.abort());
      return send(res, 200, await api.invoke(token, m[1]!, typeof body.payload === 'string' ? body.payload : JSON.stringify(body.payload ?? {}), gone.signal));
    }
    if (method === 'GET' && (m = /^\/functions\/([\w-]+)\/logs$/.exec(p))) return this.followLogs(res, token, m[1]!, Number(url.searchParams.get('since')) || Date.now() - 300_000);
    if ((m = /^\/functions\/([\w-]+)\/dead-letters$/.exec(p)) && method === 'GET') return send(res, 200, await api.deadLetters(token, m[1]!));
    if ((m = /^\/functions\/([\w-]+)\/dead-letters\/(\d+)$/.exec(p)) && method === 'GET') return send(res, 200, await api.deadLetter(token, m[1]!, Number(m[2])));
    if ((m = /^\/functions\/([\w-]+)\/dead-letters\/redrive$/.exec(p)) && method === 'POST') {
      const body = (await readJson(req)) as { sequences?: unknown };
      const sequences = Array.isArray(body.sequences) ? body.sequences.map(Number).filter((n) => Number.isInteger(n) && n > 0) : [];
      return send(res, 200, await api.redrive(token, m[1]!, sequences));
    }
    if ((m = /^\/functions\/([\w-]+)\/dead-letters\/purge$/.exec(p)) && method === 'POST') return send(res, 200, await api.purge(token, m[1]!));
    if ((m = /^\/invocations\/([\w.:-]+)$/.exec(p)) && method === 'GET') return send(res, 200, await api.invocation(token, m[1]!, url.searchParams.get('function') ?? ''));
    throw new StratusError('ResourceNotFound', `no console API ${method} ${p}`);
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = (await readJson(req)) as { token?: unknown };
    const token = typeof body.token === 'string' ? body.token.trim() : '';
    if (!token) throw new StratusError('InvalidRequest', 'paste an API token (stratus auth create-token makes one)');
    // Authenticated through the API itself: a bad or revoked token is refused as the CLI would be.
    const me = await this.api.whoami(token);
    send(res, 200, me, { 'set-cookie': this.cookie(token, this.options.sessionMaxAgeSeconds) });
  }

  private cookie(value: string, maxAge: number): string {
    return `${COOKIE}=${encodeURIComponent(value)}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${this.options.secureCookie ? '; Secure' : ''}`;
  }

  private file(res: ServerResponse, name: string): void {
    const data = this.files.get(name);
    if (!data) return send(res, 404, { error: { code: 'ResourceNotFound', message: `no console file ${name}` } });
    res.writeHead(200, {
      'content-type': TYPES[path.extname(name)] ?? 'application/octet-stream',
      'content-length': data.length,
      // The page runs only its own scripts and styles, and may be framed by nobody.
      'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'cache-control': name === 'index.html' ? 'no-cache' : 'max-age=300',
    });
    res.end(data);
  }

  /** Server-sent events of a function's log lines, as they are written, until the page goes away. */
  private async followLogs(res: ServerResponse, token: string, fn: string, sinceMs: number): Promise<void> {
    const controller = new AbortController();
    res.on('close', () => controller.abort());
    let started = false;
    const start = (): void => {
      if (started) return;
      started = true;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(': following\n\n');
    };
    // A heartbeat comment keeps proxies from closing a quiet stream, and shows the stream is open.
    const beat = setInterval(() => {
      start();
      res.write(': ping\n\n');
    }, 15_000);
    beat.unref();
    try {
      const following = this.api.followLogs(token, fn, sinceMs, (batch) => {
        start();
        for (const line of batch.lines) res.write(`data: ${JSON.stringify(LogLine.toJSON(line))}\n\n`);
      }, controller.signal);
      // The stream is open once the handler has authorized the call; say so without waiting for a line.
      setTimeout(start, 200).unref();
      await following;
    } finally {
      clearInterval(beat);
      if (started) res.end();
    }
  }
}
