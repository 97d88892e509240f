/**
 * Function logs as plain data: a function's logging configuration (Lambda's LoggingConfig), one
 * log entry as it is stored and streamed, how a runtime's line is read for its level, and how a
 * query selects entries. No I/O here: the agent ships entries, the router streams them.
 */
import { StratusError } from './errors';

/** Levels in increasing severity, as AWS_LAMBDA_LOG_LEVEL spells them. */
export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How a function's lines are written: Lambda's classic tab-separated text, or one JSON object per line. */
export type LogFormat = 'Text' | 'JSON';

/** Lambda's LoggingConfig, plus where the function's log stream keeps its lines. */
export interface LoggingConfig {
  /** Default Text. */
  format: LogFormat;
  /** Lowest level of the function's own lines that is written (JSON format only, as in Lambda). Unset: everything. */
  applicationLogLevel: LogLevel | undefined;
  /** Lowest level of platform lines (START, END, REPORT are INFO) that is written (JSON format only). Unset: INFO. */
  systemLogLevel: 'DEBUG' | 'INFO' | 'WARN' | undefined;
  /** Days the log stream keeps lines; 0: the cluster's default (STRATUS_LOG_RETENTION_DAYS). */
  retentionDays: number;
  /** Most MB the log stream holds before the oldest lines go; 0: the cluster's default (STRATUS_LOG_MAX_MB). */
  maxMb: number;
}

export const DEFAULT_LOGGING: LoggingConfig = { format: 'Text', applicationLogLevel: undefined, systemLogLevel: undefined, retentionDays: 0, maxMb: 0 };

/** Where a line came from. */
export type LogSource = 'stdout' | 'stderr' | 'platform';

/** One line of a function's log stream. */
export interface LogEntry {
  timeMs: number;
  /** The invocation the line belongs to; empty for lines written outside one (init, between invocations). */
  requestId: string;
  /** Read from the line where the runtime wrote one; empty when the line carries none. */
  level: LogLevel | '';
  source: LogSource;
  message: string;
  instanceId: string;
  agentId: string;
  /** On a platform entry standing for lines that were not kept: how many (the function logged over its budget). */
  droppedLines: number;
}

/** What a log query selects. */
export interface LogQuery {
  /** Entries at or after this time (epoch ms); 0: from the start of the stream. */
  sinceMs: number;
  /** Entries before this time; 0: no end. */
  untilMs: number;
  /** Only this invocation's lines. */
  requestId: string;
  /** Only lines containing this text (case-insensitive). */
  filter: string;
}

const PRIORITY: Record<LogLevel, number> = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };

/** True when `level` is at or above `min`. */
export function atLeast(level: LogLevel, min: LogLevel): boolean {
  return PRIORITY[level] >= PRIORITY[min];
}

function isLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && value in PRIORITY;
}

/** `base` with the fields of `patch` that carry a value (the wire's '' and 0 mean "not set"): how an update and a decode apply a partial logging config. */
export function overlayLogging(base: LoggingConfig, patch: Partial<LoggingConfig> | undefined): LoggingConfig {
  const given = Object.entries(patch ?? {}).filter(([, v]: [string, unknown]) => v !== undefined && v !== '' && v !== 0);
  return { ...base, ...(Object.fromEntries(given) as Partial<LoggingConfig>) };
}

/** Validates a logging configuration as a caller gives it, applying defaults; errors say what to write. */
export function normalizeLoggingConfig(input: Partial<LoggingConfig> | undefined): LoggingConfig {
  const format = input?.format || 'Text';
  if (format !== 'Text' && format !== 'JSON') throw new StratusError('InvalidRequest', `log format '${String(format)}': use Text or JSON`);
  const app = input?.applicationLogLevel || undefined;
  if (app !== undefined && !isLevel(app)) throw new StratusError('InvalidRequest', `application log level '${String(app)}': use one of ${LOG_LEVELS.join(', ')}`);
  const sys = input?.systemLogLevel || undefined;
  if (sys !== undefined && sys !== 'DEBUG' && sys !== 'INFO' && sys !== 'WARN') throw new StratusError('InvalidRequest', `system log level '${String(sys)}': use DEBUG, INFO or WARN`);
  // Lambda refuses levels on text logs: a text line has no level field to filter on.
  if (format === 'Text' && (app !== undefined || sys !== undefined)) {
    throw new StratusError('InvalidRequest', 'log levels apply to JSON logs only: add --log-format JSON, or leave the levels out');
  }
  const retentionDays = input?.retentionDays ?? 0;
  if (!Number.isInteger(retentionDays) || retentionDays < 0 || retentionDays > 3650) {
    throw new StratusError('InvalidRequest', `log retention ${retentionDays} days: use a whole number of days from 1 to 3650, or 0 for the cluster's default`);
  }
  const maxMb = input?.maxMb ?? 0;
  if (!Number.isInteger(maxMb) || maxMb < 0 || maxMb > 1_048_576) {
    throw new StratusError('InvalidRequest', `log size ${maxMb} MB: use a whole number of MB up to 1048576, or 0 for the cluster's default`);
  }
  return { format, applicationLogLevel: app, systemLogLevel: sys, retentionDays, maxMb };
}

/** The runtime's variables for a configuration: AWS_LAMBDA_LOG_FORMAT always, AWS_LAMBDA_LOG_LEVEL when one is set. */
export function runtimeLogEnvironment(config: LoggingConfig): Record<string, string> {
  const env: Record<string, string> = { AWS_LAMBDA_LOG_FORMAT: config.format === 'JSON' ? 'JSON' : 'TEXT' };
  if (config.applicationLogLevel) env.AWS_LAMBDA_LOG_LEVEL = config.applicationLogLevel;
  return env;
}

/** Whether a platform line of `level` is written under the configuration. */
export function systemLineWanted(config: LoggingConfig, level: LogLevel): boolean {
  return atLeast(level, config.systemLogLevel ?? 'INFO');
}

// Node: `<ISO>\t<requestId>\t<LEVEL>\t<message>`; Python: `[LEVEL]\t<ISO>\t<requestId>\t<message>`.
const NODE_TEXT = /^\d{4}-\d\d-\d\dT[\d:.]+Z\t[^\t]*\t([A-Z]+)\t/;
const PYTHON_TEXT = /^\[([A-Z]+)\]\t\d{4}-\d\d-\d\dT/;

/** The level a runtime wrote into a line (its text prefix, or a JSON line's "level"), or '' when none. */
export function levelOfLine(line: string): LogLevel | '' {
  const text = NODE_TEXT.exec(line)?.[1] ?? PYTHON_TEXT.exec(line)?.[1];
  if (text !== undefined) return isLevel(text) ? text : text === 'WARNING' ? 'WARN' : text === 'CRITICAL' ? 'FATAL' : '';
  if (line.startsWith('{') && line.includes('"level"')) {
    try {
      const level = (JSON.parse(line) as { level?: unknown }).level;
      const upper = typeof level === 'string' ? level.toUpperCase() : '';
      return isLevel(upper) ? upper : upper === 'WARNING' ? 'WARN' : '';
    } catch {
      return '';
    }
  }
  return '';
}

/** Whether an entry is one a query selects. */
export function matchesQuery(entry: LogEntry, q: LogQuery): boolean {
  if (q.sinceMs > 0 && entry.timeMs < q.sinceMs) return false;
  if (q.untilMs > 0 && entry.timeMs >= q.untilMs) return false;
  if (q.requestId && entry.requestId !== q.requestId) return false;
  if (q.filter && !entry.message.toLowerCase().includes(q.filter.toLowerCase())) return false;
  return true;
}

/** How an entry reads in a terminal: time, request id (short), then the line as written. */
export function formatLogEntry(e: LogEntry): string {
  const time = new Date(e.timeMs).toISOString();
  return `${time} ${e.requestId ? e.requestId.slice(0, 8) : '-'.padEnd(8)} ${e.message}`;
}

/**
 * Reads a time as users write it: a duration back from now ("10m", "2h", "3d", "90s") or a date
 * (ISO 8601). Returns epoch ms; InvalidRequest names the forms.
 */
export function parseSince(written: string, nowMs = Date.now()): number {
  const text = written.trim();
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(text);
  if (m) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    return nowMs - Number(m[1]) * unit;
  }
  const date = Date.parse(text);
  if (/^\d{4}-\d\d-\d\d/.test(text) && Number.isFinite(date)) return date;
  throw new StratusError('InvalidRequest', `time '${written}': write a duration back from now (90s, 10m, 2h, 3d) or a date (2026-12-07T10:00:00Z)`);
}
