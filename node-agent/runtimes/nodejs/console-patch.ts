/**
 * Replaces `console.*` so every call becomes one log line tagged with the current request id, in the
 * format the Node RIC writes (text: `<ISO>\t<requestId>\t<LEVEL>\t<message>`, or one JSON object).
 */
import * as util from 'node:util';

/** Log levels in increasing severity, named as AWS_LAMBDA_LOG_LEVEL spells them. */
export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';

/** Output shape selected by AWS_LAMBDA_LOG_FORMAT. */
export type LogFormat = 'TEXT' | 'JSON';

const PRIORITY: Record<LogLevel, number> = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };

/** Options for `RuntimeLogger`. */
export interface RuntimeLoggerOptions {
  /** Line shape. Default `TEXT`. */
  format?: LogFormat;
  /** Calls below this level are dropped. Default `TRACE` (everything). */
  minLevel?: LogLevel;
  /** Sink for complete lines (each ends in `\n`). Default: synchronous `process.stdout.write`. */
  write?: (line: string) => void;
}

/** Parses AWS_LAMBDA_LOG_LEVEL leniently: an unknown value logs everything rather than hiding output. */
export function parseLogLevel(value: string | undefined): LogLevel {
  const upper = (value ?? '').toUpperCase();
  return upper in PRIORITY ? (upper as LogLevel) : 'TRACE';
}

/** Parses AWS_LAMBDA_LOG_FORMAT; anything but `JSON` means the classic text lines. */
export function parseLogFormat(value: string | undefined): LogFormat {
  return (value ?? '').toUpperCase() === 'JSON' ? 'JSON' : 'TEXT';
}

/**
 * Writes runtime and user log lines. Holds the current request id because the RIC tags every line with
 * it; `undefined` (printed literally, as the RIC does) means no invocation is active.
 */
export class RuntimeLogger {
  /** Request id stamped on each line; set by the invoke loop. */
  requestId: string | undefined;
  private readonly format: LogFormat;
  private readonly minPriority: number;
  private readonly write: (line: string) => void;

  constructor(options: RuntimeLoggerOptions = {}) {
    this.format = options.format ?? 'TEXT';
    this.minPriority = PRIORITY[options.minLevel ?? 'TRACE'];
    // Synchronous on pipes and files on Linux: a line is in the pipe before the response is posted.
    this.write = options.write ?? ((line) => void process.stdout.write(line));
  }

  /** Writes one line for one console-style call, unless the level is filtered out. */
  log(level: LogLevel, args: unknown[]): void {
    if (PRIORITY[level] < this.minPriority) return;
    const timestamp = new Date().toISOString();
    if (this.format === 'JSON') {
      this.write(this.jsonLine(timestamp, level, args) + '\n');
      return;
    }
    const line = `${timestamp}\t${this.requestId}\t${level}\t${util.format(...args)}`;
    // One call must stay one line for the log collector; the RIC uses \r for embedded newlines.
    this.write(line.replace(/\n/g, '\r') + '\n');
  }

  private jsonLine(timestamp: string, level: LogLevel, args: unknown[]): string {
    const record: Record<string, unknown> = { timestamp, level, requestId: this.requestId };
    const single = args.length === 1 ? args[0] : undefined;
    record.message =
      typeof single === 'object' && single !== null && !(single instanceof Error) ? single : util.format(...args);
    const error = args.find((a): a is Error => a instanceof Error);
    if (error) {
      record.errorType = error.name;
      record.errorMessage = error.message;
      record.stackTrace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
    }
    try {
      return JSON.stringify(record);
    } catch {
      // Circular or BigInt values: fall back to the inspected text rather than losing the line.
      record.message = util.format(...args);
      return JSON.stringify(record);
    }
  }
}

type ConsoleMethod = 'trace' | 'debug' | 'info' | 'log' | 'warn' | 'error';

const CONSOLE_LEVELS: Record<ConsoleMethod, LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  log: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
};

/**
 * Points console methods (plus the RIC's `console.fatal`) at the logger. Like the RIC, everything goes
 * to stdout so lines of different levels keep their order; `console.trace` logs no stack.
 */
export function patchConsole(logger: RuntimeLogger): void {
  const target = console as unknown as Record<string, (...args: unknown[]) => void>;
  for (const [method, level] of Object.entries(CONSOLE_LEVELS)) {
    target[method] = (...args: unknown[]) => logger.log(level, args);
  }
  target.fatal = (...args: unknown[]) => logger.log('FATAL', args);
}
