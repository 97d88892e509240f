import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One report a fixture function made: the start or end of a run. */
export interface RecordedRun {
  fn: string;
  requestId: string;
  phase: 'start' | 'end';
  event: unknown;
  /** Random id of the instance (process) that ran it; pids are all alike inside sandboxes. */
  instance: string;
  /** Epoch ms, as the function saw it. */
  t: number;
  /** How many times this request id had started when this report arrived (on start reports). */
  runs: number;
}

/**
 * Lets fixture functions report what they did over HTTP on the loopback interface (functions run
 * in sandboxes with their own /tmp, so a shared file would not do; the network is shared). Each
 * start report is answered with how many times that request id has started, so a function can
 * fail its first attempts and succeed later.
 */
export class EventRecorder {
  readonly runs: RecordedRun[] = [];
  private readonly starts = new Map<string, number>();
  private readonly listeners = new Set<() => void>();

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
  ) {}

  /** Starts the recorder on a free loopback port. */
  static async start(): Promise<EventRecorder> {
    let recorder: EventRecorder | undefined;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body: Omit<RecordedRun, 'runs'>;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Omit<RecordedRun, 'runs'>;
        } catch {
          res.writeHead(400).end();
          return;
        }
        const runs = recorder?.add(body) ?? 0;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ runs }));
      });
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    recorder = new EventRecorder(server, (server.address() as AddressInfo).port);
    return recorder;
  }

  /**
   * What an agent needs so that functions may reach the recorder: sandboxes have their own network
   * and reach the host's loopback only on the ports the operator allows.
   */
  agentEnv(): Record<string, string> {
    return { STRATUS_SANDBOX_ALLOW_HOST_PORTS: String(this.port) };
  }

  /** The environment a fixture needs to reach the recorder. */
  env(): Record<string, string> {
    return { RECORD_PORT: String(this.port) };
  }

  /** Runs of one function (start reports unless `phase` says otherwise). */
  of(fn: string, phase: RecordedRun['phase'] = 'start'): RecordedRun[] {
    return this.runs.filter((r) => r.fn === fn && r.phase === phase);
  }

  /** Resolves once `check` holds, re-checking at every report; throws naming `what` after `timeoutMs`. */
  async waitFor(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const listener = (): void => {
        if (!check()) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve();
      };
      this.listeners.add(listener);
    });
  }

  /** Stops listening and drops kept-alive connections. */
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private add(body: Omit<RecordedRun, 'runs'>): number {
    let runs = this.starts.get(body.requestId) ?? 0;
    if (body.phase === 'start') this.starts.set(body.requestId, (runs += 1));
    this.runs.push({ ...body, runs });
    for (const l of [...this.listeners]) l();
    return runs;
  }
}

/**
 * JavaScript a fixture puts before its handler: `report(phase, event, context)` posts to the
 * recorder and resolves with how many times this request id has started.
 */
export const REPORT_JS = `
const http = require('http');
const instance = require('crypto').randomUUID();
const agent = new http.Agent({ keepAlive: true });
function report(phase, event, context) {
  const body = JSON.stringify({ fn: context.functionName, requestId: context.awsRequestId, phase, event, instance, t: Date.now() });
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: Number(process.env.RECORD_PORT), method: 'POST', path: '/', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let data = '';
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve(JSON.parse(data).runs));
    });
    req.on('error', reject);
    req.end(body);
  });
}
`;
