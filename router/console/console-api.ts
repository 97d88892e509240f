import type { AuthServiceServer } from '../../proto/gen/stratus/v1/auth';
import { GetClusterResponse, type ClusterServiceServer } from '../../proto/gen/stratus/v1/cluster';
import { DeadLetter, type DeadLetterServiceServer } from '../../proto/gen/stratus/v1/dead_letters';
import { FunctionInfo } from '../../proto/gen/stratus/v1/common';
import type { FunctionServiceServer } from '../../proto/gen/stratus/v1/functions';
import { InvokeResponse, LogType, type InvokeServiceServer } from '../../proto/gen/stratus/v1/invoke';
import { Mapping, type MappingServiceServer } from '../../proto/gen/stratus/v1/mappings';
import type { InvocationServiceServer, LogBatch, LogServiceServer } from '../../proto/gen/stratus/v1/observability';
import { FunctionUrl, Route, type RouteServiceServer } from '../../proto/gen/stratus/v1/routes';
import { Schedule, type ScheduleServiceServer } from '../../proto/gen/stratus/v1/schedules';
import { Trigger, type TriggerServiceServer } from '../../proto/gen/stratus/v1/triggers';
import { StratusError } from '../../sdk/core/errors';
import { validateFunctionName } from '../../sdk/core/function-config';
import type { InvocationRecord } from '../../sdk/core/invocation-record';
import { functionStats, emptyStats, type FunctionStats } from './function-stats';
import { callServerStream, callUnary } from './service-calls';

/** The router's own API handlers the console calls (as the logged-in principal). */
export interface ConsoleServices {
  auth: AuthServiceServer;
  functions: FunctionServiceServer;
  invoke: InvokeServiceServer;
  deadLetters: DeadLetterServiceServer;
  cluster: ClusterServiceServer;
  logs: LogServiceServer;
  invocations: InvocationServiceServer;
  routes: RouteServiceServer;
  triggers: TriggerServiceServer;
  schedules: ScheduleServiceServer;
  mappings: MappingServiceServer;
}

/** The window the console's at-a-glance figures cover, and its buckets. */
const WINDOW_MS = 3_600_000;
const BUCKETS = 12;

/** Settings the console may change on a function: the CLI's deploy flags of the same names. */
export interface ConfigEdit {
  memoryMb?: number;
  timeoutSeconds?: number;
  environment?: Record<string, string>;
  /** null: unreserved. */
  reservedConcurrency?: number | null;
  maxRetryAttempts?: number;
  maxEventAgeSeconds?: number;
}

function invalid(message: string): StratusError {
  return new StratusError('InvalidRequest', message);
}

/** Checks an edit's shape (the API checks the values): numbers where numbers go, strings in the environment. */
export function parseConfigEdit(body: unknown): ConfigEdit {
  if (!body || typeof body !== 'object') throw invalid('send the settings to change as a JSON object');
  const b = body as Record<string, unknown>;
  const out: ConfigEdit = {};
  for (const key of ['memoryMb', 'timeoutSeconds', 'maxRetryAttempts', 'maxEventAgeSeconds'] as const) {
    if (b[key] === undefined) continue;
    if (typeof b[key] !== 'number' || !Number.isFinite(b[key])) throw invalid(`${key} must be a number`);
    out[key] = b[key];
  }
  if (b.reservedConcurrency !== undefined) {
    if (b.reservedConcurrency !== null && typeof b.reservedConcurrency !== 'number') throw invalid('reservedConcurrency must be a number, or null for unreserved');
    out.reservedConcurrency = b.reservedConcurrency;
  }
  if (b.environment !== undefined) {
    if (!b.environment || typeof b.environment !== 'object' || Object.values(b.environment).some((v) => typeof v !== 'string')) throw invalid('environment must map names to strings');
    out.environment = b.environment as Record<string, string>;
  }
  return out;
}

/** What the console's pages read and do, each through the router's own API as the caller. */
export class ConsoleApi {
  constructor(private readonly s: ConsoleServices) {}

  async whoami(token: string): Promise<unknown> {
    return callUnary(this.s.auth.whoAmI, {}, token);
  }

  /** Every function the caller sees, with its last hour. */
  async functions(token: string, nowMs = Date.now()): Promise<Array<{ function: unknown; stats: FunctionStats }>> {
    const fns: FunctionInfo[] = [];
    for (let marker = ''; ; ) {
      const page = await callUnary(this.s.functions.listFunctions, { marker, maxItems: 500 }, token);
      fns.push(...page.functions);
      if (!page.nextMarker) break;
      marker = page.nextMarker;
    }
    const stats = functionStats(await this.records(token, '', nowMs), nowMs, WINDOW_MS, BUCKETS);
    return fns.map((f) => ({ function: FunctionInfo.toJSON(f), stats: stats.get(f.config?.name ?? '') ?? emptyStats(BUCKETS) }));
  }

  /** One function: its configuration, event sources, last hour and recent invocations. */
  async function(token: string, name: string, nowMs = Date.now()): Promise<unknown> {
    validateFunctionName(name);
    const info = await callUnary(this.s.functions.getFunction, { name, qualifier: '' }, token);
    const [routes, urls, triggers, schedules, mappings, records] = await Promise.all([
      callUnary(this.s.routes.listRoutes, {}, token).then((r) => r.routes.filter((x) => x.functionName === name), () => []),
      callUnary(this.s.routes.listFunctionUrls, {}, token).then((r) => r.urls.filter((x) => x.functionName === name), () => []),
      callUnary(this.s.triggers.listTriggers, { functionName: name }, token).then((r) => r.triggers, () => []),
      callUnary(this.s.schedules.listSchedules, { functionName: name }, token).then((r) => r.schedules, () => []),
      callUnary(this.s.mappings.listMappings, { functionName: name }, token).then((r) => r.mappings, () => []),
      this.records(token, name, nowMs),
    ]);
    const stats = functionStats(records, nowMs, WINDOW_MS, BUCKETS).get(name) ?? emptyStats(BUCKETS);
    return {
      function: FunctionInfo.toJSON(info),
      stats,
      eventSources: {
        routes: routes.map((r) => Route.toJSON(r)),
        urls: urls.map((u) => FunctionUrl.toJSON(u)),
        triggers: triggers.map((t) => Trigger.toJSON(t)),
        schedules: schedules.map((x) => Schedule.toJSON(x)),
        mappings: mappings.map((m) => Mapping.toJSON(m)),
      },
      invocations: [...records].sort((a, b) => b.startMs - a.startMs).slice(0, 50),
    };
  }

  /** Changes a function's settings through UpdateFunctionConfiguration: the CLI's validation and errors. */
  async updateFunction(token: string, name: string, edit: ConfigEdit): Promise<unknown> {
    validateFunctionName(name);
    const mask: string[] = [];
    const config: Record<string, unknown> = { name };
    if (edit.memoryMb !== undefined) (config.memoryMb = edit.memoryMb), mask.push('memory_mb');
    if (edit.timeoutSeconds !== undefined) (config.timeoutSeconds = edit.timeoutSeconds), mask.push('timeout_seconds');
    if (edit.environment !== undefined) (config.environment = edit.environment), mask.push('environment');
    if (edit.reservedConcurrency !== undefined) (config.reservedConcurrency = edit.reservedConcurrency ?? undefined), mask.push('reserved_concurrency');
    if (edit.maxRetryAttempts !== undefined || edit.maxEventAgeSeconds !== undefined) {
      const current = (await callUnary(this.s.functions.getFunction, { name, qualifier: '' }, token)).config?.async;
      config.async = { ...current, maxRetryAttempts: edit.maxRetryAttempts ?? current?.maxRetryAttempts, maxEventAgeSeconds: edit.maxEventAgeSeconds ?? current?.maxEventAgeSeconds ?? 0 };
      mask.push('async');
    }
    if (mask.length === 0) throw invalid('nothing to change: send memoryMb, timeoutSeconds, environment, reservedConcurrency, maxRetryAttempts or maxEventAgeSeconds');
    const updated = await callUnary(this.s.functions.updateFunctionConfiguration, { name, config: config as never, updateMask: mask, expectedRevisionId: '' }, token);
    return FunctionInfo.toJSON(updated);
  }

  /** A test invoke: the result, the log tail and the report. */
  async invoke(token: string, name: string, payload: string, signal?: AbortSignal): Promise<unknown> {
    validateFunctionName(name);
    const res = await callUnary(this.s.invoke.invoke, { functionName: name, qualifier: '', payload: Buffer.from(payload), logType: LogType.LOG_TYPE_TAIL, clientContext: '', dryRun: false }, token, signal);
    return { ...(InvokeResponse.toJSON(res) as object), payloadText: res.payload.toString('utf8') };
  }

  /** A function's dead letters, oldest first. */
  async deadLetters(token: string, name: string): Promise<unknown> {
    validateFunctionName(name);
    const res = await callUnary(this.s.deadLetters.listDeadLetters, { functionName: name, afterSequence: 0, maxItems: 200 }, token);
    return res.deadLetters.map((d) => DeadLetter.toJSON(d));
  }

  async deadLetter(token: string, name: string, sequence: number): Promise<unknown> {
    return DeadLetter.toJSON(await callUnary(this.s.deadLetters.getDeadLetter, { functionName: validateFunctionName(name), sequence }, token));
  }

  /** Redrives some (or, with none named, all) of a function's dead letters. */
  async redrive(token: string, name: string, sequences: number[]): Promise<unknown> {
    return callUnary(this.s.deadLetters.redriveDeadLetters, { functionName: validateFunctionName(name), sequences }, token);
  }

  async purge(token: string, name: string): Promise<unknown> {
    return callUnary(this.s.deadLetters.purgeDeadLetters, { functionName: validateFunctionName(name) }, token);
  }

  async cluster(token: string): Promise<unknown> {
    return GetClusterResponse.toJSON(await callUnary(this.s.cluster.getCluster, {}, token));
  }

  async invocation(token: string, requestId: string, name: string): Promise<unknown> {
    return callUnary(this.s.invocations.getInvocation, { requestId, functionName: name, sinceMs: 0 }, token);
  }

  /** Follows a function's log from a little before now, handing each batch to `onBatch` until `signal` aborts. */
  followLogs(token: string, name: string, sinceMs: number, onBatch: (b: LogBatch) => void, signal: AbortSignal): Promise<void> {
    validateFunctionName(name);
    return callServerStream(this.s.logs.tailLogs, { functionName: name, sinceMs, untilMs: 0, follow: true, requestId: '', filter: '', limit: 0 }, token, onBatch, signal);
  }

  /** The caller's invocation records of the window (of one function, or all it may read). */
  private async records(token: string, name: string, nowMs: number): Promise<InvocationRecord[]> {
    const res = await callUnary(this.s.invocations.listInvocations, { functionName: name, sinceMs: nowMs - WINDOW_MS, untilMs: 0, statuses: [], trigger: '', limit: 10_000 }, token);
    return res.invocations as InvocationRecord[];
  }
}
