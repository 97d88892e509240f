import { StringDecoder } from 'node:string_decoder';
import { LIMITS } from '../../sdk/core/limits';

/** Keeps the last `maxBytes` of an invocation's log lines, as Lambda's `LogType: Tail` returns them. */
export class LogTail {
  private lines: string[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes: number = LIMITS.logTailBytes) {}

  /** Appends one line (without its newline). */
  push(line: string): void {
    const withNewline = `${line}\n`;
    this.lines.push(withNewline);
    this.bytes += Buffer.byteLength(withNewline);
    while (this.bytes > this.maxBytes && this.lines.length > 1) {
      this.bytes -= Buffer.byteLength(this.lines.shift() ?? '');
    }
  }

  /** The kept text, cut to the last `maxBytes` bytes (a single huge line is cut too). */
  text(): string {
    const all = Buffer.from(this.lines.join(''));
    if (all.length <= this.maxBytes) return all.toString('utf8');
    // Start at a whole character: a cut inside a multibyte one would decode to U+FFFD.
    let start = all.length - this.maxBytes;
    while (start < all.length && ((all[start] ?? 0) & 0xc0) === 0x80) start += 1;
    return all.subarray(start).toString('utf8');
  }
}

/** Facts for an invocation's REPORT line. */
export interface ReportFacts {
  requestId: string;
  durationMs: number;
  billedDurationMs: number;
  memorySizeMb: number;
  maxMemoryUsedMb: number;
  initDurationMs?: number;
}

/** `START RequestId: … Version: …`, as the Lambda platform prints it. */
export function startLine(requestId: string, version: string): string {
  return `START RequestId: ${requestId} Version: ${version}`;
}

/** `END RequestId: …`. */
export function endLine(requestId: string): string {
  return `END RequestId: ${requestId}`;
}

/** The tab-separated REPORT line; Init Duration only on an instance's first invocation. */
export function reportLine(f: ReportFacts): string {
  const init = f.initDurationMs === undefined ? '' : `\tInit Duration: ${f.initDurationMs.toFixed(2)} ms`;
  return (
    `REPORT RequestId: ${f.requestId}\tDuration: ${f.durationMs.toFixed(2)} ms\tBilled Duration: ${f.billedDurationMs} ms` +
    `\tMemory Size: ${f.memorySizeMb} MB\tMax Memory Used: ${f.maxMemoryUsedMb} MB${init}\t`
  );
}

/** The platform lines of an invocation, as Lambda writes them in a function's log format. */
export interface PlatformLines {
  start(requestId: string, version: string): string;
  end(requestId: string, status: 'success' | 'error' | 'timeout' | 'failure'): string;
  report(f: ReportFacts, status: 'success' | 'error' | 'timeout' | 'failure'): string;
}

/** START / END / REPORT in the classic text form. */
export const TEXT_PLATFORM_LINES: PlatformLines = {
  start: startLine,
  end: (requestId) => endLine(requestId),
  report: (f) => reportLine(f),
};

/** platform.start / platform.runtimeDone / platform.report, one JSON object per line (Lambda's JSON log format). */
export const JSON_PLATFORM_LINES: PlatformLines = {
  start: (requestId, version) => JSON.stringify({ time: new Date().toISOString(), type: 'platform.start', record: { requestId, version } }),
  end: (requestId, status) => JSON.stringify({ time: new Date().toISOString(), type: 'platform.runtimeDone', record: { requestId, status } }),
  report: (f, status) =>
    JSON.stringify({
      time: new Date().toISOString(),
      type: 'platform.report',
      record: {
        requestId: f.requestId,
        metrics: {
          durationMs: Number(f.durationMs.toFixed(3)),
          billedDurationMs: f.billedDurationMs,
          memorySizeMB: f.memorySizeMb,
          maxMemoryUsedMB: f.maxMemoryUsedMb,
          ...(f.initDurationMs === undefined ? {} : { initDurationMs: Number(f.initDurationMs.toFixed(3)) }),
        },
        status,
      },
    }),
};

/** Billed duration: rounded up to the granularity (Lambda: 1 ms), at least one unit. */
export function billedDuration(durationMs: number, granularityMs = 1): number {
  return Math.max(granularityMs, Math.ceil(durationMs / granularityMs) * granularityMs);
}

/** Splits a byte stream into lines, keeping a partial last line until its newline arrives. */
export class LineSplitter {
  private partial = '';
  // Keeps a multibyte character split across two chunks whole.
  private readonly decoder = new StringDecoder('utf8');

  constructor(private readonly onLine: (line: string) => void) {}

  /** Feeds a chunk of output. */
  write(chunk: Buffer | string): void {
    const text = this.partial + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    const parts = text.split('\n');
    this.partial = parts.pop() ?? '';
    for (const part of parts) this.onLine(part);
  }

  /** Emits whatever partial line is left (the stream ended). */
  flush(): void {
    this.partial += this.decoder.end();
    if (this.partial) this.onLine(this.partial);
    this.partial = '';
  }
}
