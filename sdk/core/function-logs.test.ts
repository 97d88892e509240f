import { levelOfLine, matchesQuery, parseSince, runtimeLogEnvironment, systemLineWanted, DEFAULT_LOGGING, type LogEntry } from './function-logs';
import { decodeLogBatch, encodeLogBatch } from '../platform/log-batch';

const entry = (over: Partial<LogEntry> = {}): LogEntry => ({ timeMs: 1000, requestId: 'r1', level: 'INFO', source: 'stdout', message: 'Hello World', instanceId: 'i1', agentId: 'a1', droppedLines: 0, ...over });

describe('function logs', () => {
  test('levelOfLine reads the level a runtime wrote when the line is Node text, Python text or JSON', () => {
    expect(levelOfLine('2026-12-07T10:00:00.000Z\tabc\tWARN\tcareful')).toBe('WARN');
    expect(levelOfLine('[ERROR]\t2026-12-07T10:00:00.000Z\tabc\tboom')).toBe('ERROR');
    expect(levelOfLine('[WARNING]\t2026-12-07T10:00:00.000Z\tabc\tboom')).toBe('WARN');
    expect(levelOfLine('{"timestamp":"x","level":"debug","message":"m"}')).toBe('DEBUG');
    expect(levelOfLine('plain print output')).toBe('');
    expect(levelOfLine('{"level": broken')).toBe('');
  });

  test('matchesQuery selects by time, request id and text when each is given', () => {
    const q = { sinceMs: 0, untilMs: 0, requestId: '', filter: '' };
    expect(matchesQuery(entry(), q)).toBe(true);
    expect(matchesQuery(entry(), { ...q, sinceMs: 1001 })).toBe(false);
    expect(matchesQuery(entry(), { ...q, untilMs: 1000 })).toBe(false);
    expect(matchesQuery(entry(), { ...q, requestId: 'r2' })).toBe(false);
    expect(matchesQuery(entry(), { ...q, filter: 'hello world' })).toBe(true);
    expect(matchesQuery(entry(), { ...q, filter: 'bye' })).toBe(false);
  });

  test('parseSince reads durations back from now and dates, and names the forms when neither', () => {
    expect(parseSince('10m', 1_000_000)).toBe(400_000);
    expect(parseSince('2h', 10_000_000)).toBe(10_000_000 - 7_200_000);
    expect(parseSince('90s', 100_000)).toBe(10_000);
    expect(parseSince('2026-12-07T10:00:00Z')).toBe(Date.parse('2026-12-07T10:00:00Z'));
    expect(() => parseSince('yesterday')).toThrow(/90s, 10m, 2h, 3d/);
  });

  test('the runtime gets the format and level the logging config names, and system lines follow their level', () => {
    expect(runtimeLogEnvironment(DEFAULT_LOGGING)).toEqual({ AWS_LAMBDA_LOG_FORMAT: 'TEXT' });
    expect(runtimeLogEnvironment({ ...DEFAULT_LOGGING, format: 'JSON', applicationLogLevel: 'WARN' })).toEqual({ AWS_LAMBDA_LOG_FORMAT: 'JSON', AWS_LAMBDA_LOG_LEVEL: 'WARN' });
    expect(systemLineWanted(DEFAULT_LOGGING, 'INFO')).toBe(true);
    expect(systemLineWanted({ ...DEFAULT_LOGGING, format: 'JSON', systemLogLevel: 'WARN' }, 'INFO')).toBe(false);
    expect(systemLineWanted({ ...DEFAULT_LOGGING, format: 'JSON', systemLogLevel: 'DEBUG' }, 'DEBUG')).toBe(true);
  });

  test('a batch survives its trip through a message unchanged, and a message that is not one gives no lines', () => {
    const lines = [entry(), entry({ requestId: '', level: '', source: 'platform', message: 'x', droppedLines: 3 })];
    expect(decodeLogBatch(encodeLogBatch(lines))).toEqual(lines);
    expect(decodeLogBatch(Buffer.from('not json'))).toEqual([]);
  });
});
