import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

/** A readiness probe: returns undefined when ready, else the reason it is not. */
export type ReadinessCheck = () => string | undefined;

/** A small HTTP server for `/healthz` (the process is alive) and `/readyz` (it can serve). */
export class HealthServer {
  private readonly server: http.Server | https.Server;
  private fallback: http.RequestListener | undefined;

  constructor(
    private readonly ready: ReadinessCheck,
    private readonly status: () => Record<string, unknown> = () => ({}),
    /** Prometheus text for `/metrics`, when the program has metrics. */
    private readonly metrics?: () => string | Promise<string>,
    /** Serve HTTPS with this certificate and key (the router's gateway port), else plain HTTP. */
    tls?: { cert: Buffer; key: Buffer },
  ) {
    const listener: http.RequestListener = (req, res) => {
      const url = req.url ?? '';
      if (url === '/healthz') return this.send(res, 200, { status: 'ok' });
      if (url === '/metrics' && this.metrics) {
        Promise.resolve()
          .then(() => this.metrics!())
          .then(
            (text) => {
              res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': Buffer.byteLength(text) });
              res.end(text);
            },
            (err: unknown) => this.send(res, 500, { error: `could not collect metrics: ${(err as Error).message}` }),
          );
        return;
      }
      if (url === '/readyz') {
        const reason = this.ready();
        return this.send(res, reason ? 503 : 200, reason ? { status: 'not ready', reason } : { status: 'ready', ...this.status() });
      }
      if (this.fallback) return this.fallback(req, res);
      this.send(res, 404, { error: 'not found: try /healthz or /readyz' });
    };
    this.server = tls ? https.createServer({ cert: tls.cert, key: tls.key }, listener) : http.createServer(listener);
  }

  /** Serves every other path with `handler` (the router's HTTP gateway), so one port carries both. */
  serveOtherPaths(handler: http.RequestListener): void {
    this.fallback = handler;
  }

  /** Listens on host:port (port 0 picks one) and returns the bound port. */
  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** Stops accepting connections. */
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private send(res: http.ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}
