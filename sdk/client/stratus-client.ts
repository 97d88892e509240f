import { randomUUID } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ClusterServiceClient } from '../../proto/gen/stratus/v1/cluster';
import type { FunctionInfo as FunctionInfoPb } from '../../proto/gen/stratus/v1/common';
import { FunctionServiceClient, type ListFunctionsResponse, type UploadCodeResponse } from '../../proto/gen/stratus/v1/functions';
import {
  DeadLetterServiceClient,
  type DeadLetter as DeadLetterPb,
  type ListDeadLettersResponse,
  type PurgeDeadLettersResponse,
  type RedriveDeadLettersResponse,
} from '../../proto/gen/stratus/v1/dead_letters';
import { LayerServiceClient, type LayerVersion as LayerVersionPb, type ListLayersResponse } from '../../proto/gen/stratus/v1/layers';
import { InvokeServiceClient, LogType, type InvokeAsyncBatchResponse, type InvokeResponse } from '../../proto/gen/stratus/v1/invoke';
import { RouteServiceClient, type FunctionUrl as FunctionUrlPb, type ListFunctionUrlsResponse, type ListRoutesResponse, type Route as RoutePb } from '../../proto/gen/stratus/v1/routes';
import { ScheduleServiceClient, type ListSchedulesResponse, type Schedule as SchedulePb } from '../../proto/gen/stratus/v1/schedules';
import { EventServiceClient, TriggerServiceClient, type ListTriggersResponse, type PublishResponse, type Trigger as TriggerPb } from '../../proto/gen/stratus/v1/triggers';
import { BucketServiceClient } from '../../proto/gen/stratus/v1/buckets';
import { MappingServiceClient } from '../../proto/gen/stratus/v1/mappings';
import { TableServiceClient } from '../../proto/gen/stratus/v1/tables';
import { withBearer } from '../core/wire/bearer';
import { hashFile, packDirectory } from './bundle-pack';
import { backoffMs, sleep } from '../core/deadline';
import { StratusError } from '../core/errors';
import { validateGivenSizes, type CodeRef } from '../core/function-config';
import { LIMITS } from '../core/limits';
import { injectIntoMetadata } from '../core/trace-context';
import { codeRefFromPb, functionConfigToPb, functionRecordFromPb } from '../core/wire/function-codec';
import { functionUrlFromPb, routeAuthToPb, routeFromPb } from '../core/wire/route-codec';
import { waitForChannelReady } from '../core/wire/grpc-channel';
import { missedTicksToPb } from '../core/wire/schedule-codec';
import { fromGrpcError } from '../core/wire/grpc-errors';
import { resolveClientOptions, type ResolvedClientOptions, type StratusClientOptions } from './client-options';
import type { ClusterInfo, DeadLetterInfo, DeployRequest, LayerInfo, DeployResult, FunctionInfo, FunctionSettings, InvokeOptions, InvokeResult, UploadProgress } from './types';
import type { FunctionUrlInfo, RouteAuth, RouteInfo } from './route-types';
import { publishResultFromPb, scheduleFromPb, triggerFromPb } from './event-source-codec';
import type { CreateScheduleOptions, CreateTriggerOptions, PublishOptions, PublishResult, ScheduleInfo, TriggerInfo } from './event-source-types';
import { AsyncBatcher } from './async-batcher';
import { MappingClient } from './mapping-client';
import { BucketClient, TableClient } from './table-client';

interface Stubs {
  channel: grpc.Channel;
  functions: FunctionServiceClient;
  invoke: InvokeServiceClient;
  cluster: ClusterServiceClient;
  deadLetters: DeadLetterServiceClient;
  layers: LayerServiceClient;
  routes: RouteServiceClient;
  triggers: TriggerServiceClient;
  events: EventServiceClient;
  schedules: ScheduleServiceClient;
  mappings: MappingServiceClient;
  tables: TableServiceClient;
  buckets: BucketServiceClient;
}

/** Which failures a call may retry: reads anything transient, invocations only what never ran. */
type RetryClass = 'read' | 'invoke' | 'write';

function retryableFor(cls: RetryClass, err: StratusError): boolean {
  switch (cls) {
    case 'read':
      return err.code === 'ServiceUnavailable' || err.code === 'TooManyRequests';
    case 'invoke':
      // A throttle and "no agents" are refusals before anything ran; a lost agent may have run it.
      return err.code === 'TooManyRequests' && err.retryable;
    case 'write':
      return false;
    default: {
      const unreachable: never = cls;
      return unreachable;
    }
  }
}

const tracer = trace.getTracer('stratus-sdk');

function layerFromPb(l: LayerVersionPb): LayerInfo {
  return { name: l.name, version: l.version, ref: `${l.name}:${l.version}`, code: codeRefFromPb(l.code), compatibleRuntimes: l.compatibleRuntimes, description: l.description, created: new Date(l.createdMs) };
}

function deadLetterFromPb(d: DeadLetterPb): DeadLetterInfo {
  let record: unknown = null;
  try {
    record = JSON.parse(d.record.toString('utf8'));
  } catch {
    record = d.record.toString('utf8');
  }
  return {
    sequence: d.sequence,
    functionName: d.functionName,
    requestId: d.requestId,
    condition: d.condition,
    approximateInvokeCount: d.approximateInvokeCount,
    errorType: d.errorType,
    errorMessage: d.errorMessage,
    time: new Date(d.timeMs),
    record,
  };
}

/**
 * The typed client for the Stratus API. Deadlines on every call, retries only where they are
 * safe, and failover across routers when one cannot be reached (a request that never left
 * is always safe to send elsewhere).
 */
export class StratusClient {
  private readonly options: ResolvedClientOptions;
  private readonly stubs = new Map<string, Stubs>();
  private current = 0;
  /** Event source mappings: streams, tables and buckets feeding functions in batches. */
  readonly mappings: MappingClient;
  /** Tables (KV buckets) and their items. */
  readonly tables: TableClient;
  /** Buckets of objects (Object Store). */
  readonly buckets: BucketClient;
  private readonly asyncBatcher: AsyncBatcher;

  constructor(options: StratusClientOptions) {
    this.options = resolveClientOptions(options);
    const unary = <T>(cls: 'read' | 'write', method: string, send: (s: Stubs, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: T) => void) => grpc.ClientUnaryCall): Promise<T> =>
      this.call<T>(cls, method, this.deadline(), undefined, send);
    this.mappings = new MappingClient(unary);
    this.tables = new TableClient(unary);
    this.buckets = new BucketClient(unary);
    this.asyncBatcher = new AsyncBatcher((entries, deadlineMs) =>
      this.call<InvokeAsyncBatchResponse>('read', 'InvokeAsyncBatch', deadlineMs, undefined, (s, md, opts, cb) => s.invoke.invokeAsyncBatch({ entries }, md, opts, cb)),
    );
  }

  /** Uploads a bundle file (zip or tar.gz) in chunks; returns where it is stored. */
  async uploadCode(file: string, onProgress?: UploadProgress): Promise<CodeRef & { alreadyStored: boolean }> {
    const { sha256, size } = await hashFile(file);
    if (size > LIMITS.maxBundleBytes) {
      throw new StratusError('PayloadTooLarge', `the bundle is ${size} bytes, over the ${LIMITS.maxBundleBytes / 1024 / 1024} MB upload limit: remove unused files or move dependencies into a layer`);
    }
    const deadline = Date.now() + Math.max(this.options.defaultTimeoutMs, 120_000);
    const res = await this.call<UploadCodeResponse>('read', 'UploadCode', deadline, undefined, (s, md, opts, cb) => {
      const call = s.functions.uploadCode(md, opts, cb);
      void (async () => {
        call.write({ part: { $case: 'header', value: { size, sha256 } } });
        let sent = 0;
        for await (const chunk of createReadStream(file, { highWaterMark: LIMITS.uploadChunkBytes })) {
          const buf = chunk as Buffer;
          if (!call.write({ part: { $case: 'chunk', value: buf } })) await new Promise<void>((r) => call.once('drain', () => r()));
          sent += buf.length;
          onProgress?.(sent, size);
        }
        call.end();
      })().catch((err: unknown) => call.destroy(err as Error));
      return call;
    });
    return { ...codeRefFromPb(res.code), alreadyStored: res.alreadyStored };
  }

  /** Creates a function from uploaded code. */
  async createFunction(name: string, settings: FunctionSettings & { runtime: string }, codeSha256: string): Promise<FunctionInfo> {
    validateGivenSizes(settings);
    const config = functionConfigToPb({ ...settings, name });
    const res = await this.call<FunctionInfoPb>('write', 'CreateFunction', this.deadline(), undefined, (s, md, opts, cb) => s.functions.createFunction({ config, codeSha256 }, md, opts, cb));
    return functionRecordFromPb(res);
  }

  /** Points a function at new uploaded code. */
  async updateFunctionCode(name: string, codeSha256: string, expectedRevisionId = ''): Promise<FunctionInfo> {
    const res = await this.call<FunctionInfoPb>('write', 'UpdateFunctionCode', this.deadline(), undefined, (s, md, opts, cb) =>
      s.functions.updateFunctionCode({ name, codeSha256, expectedRevisionId }, md, opts, cb),
    );
    return functionRecordFromPb(res);
  }

  /**
   * Changes a function's settings. Fields left undefined keep their value; `mask` (proto field
   * names) applies exactly the named fields, which is how a value is cleared.
   */
  async updateFunctionConfiguration(name: string, settings: FunctionSettings, mask: string[] = []): Promise<FunctionInfo> {
    validateGivenSizes(settings);
    const config = functionConfigToPb({ ...settings, name });
    const res = await this.call<FunctionInfoPb>('write', 'UpdateFunctionConfiguration', this.deadline(), undefined, (s, md, opts, cb) =>
      s.functions.updateFunctionConfiguration({ name, config, updateMask: mask, expectedRevisionId: '' }, md, opts, cb),
    );
    return functionRecordFromPb(res);
  }

  /** A function's $LATEST configuration; FunctionNotFound when absent. */
  async getFunction(name: string): Promise<FunctionInfo> {
    const res = await this.call<FunctionInfoPb>('read', 'GetFunction', this.deadline(), undefined, (s, md, opts, cb) => s.functions.getFunction({ name, qualifier: '' }, md, opts, cb));
    return functionRecordFromPb(res);
  }

  /** Every function, following pages. */
  async listFunctions(): Promise<FunctionInfo[]> {
    const all: FunctionInfo[] = [];
    let marker = '';
    do {
      const page = await this.call<ListFunctionsResponse>('read', 'ListFunctions', this.deadline(), undefined, (s, md, opts, cb) => s.functions.listFunctions({ marker, maxItems: 200 }, md, opts, cb));
      all.push(...page.functions.map(functionRecordFromPb));
      marker = page.nextMarker;
    } while (marker);
    return all;
  }

  /** Deletes a function; FunctionNotFound when absent. */
  async deleteFunction(name: string): Promise<void> {
    await this.call('write', 'DeleteFunction', this.deadline(), undefined, (s, md, opts, cb) => s.functions.deleteFunction({ name }, md, opts, cb));
  }

  /**
   * Deploys a folder, zip or tar.gz: uploads the code (skipped by the server when unchanged),
   * then creates the function or updates its code and settings.
   */
  async deploy(req: DeployRequest): Promise<DeployResult> {
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'stratus-deploy-'));
    try {
      const stat = await fs.stat(req.source).catch(() => undefined);
      if (!stat) throw new StratusError('InvalidRequest', `'${req.source}' does not exist: pass a folder, a .zip or a .tar.gz`);
      // Before the upload, so a bad setting fails fast rather than after sending the bundle.
      validateGivenSizes(req.settings);
      const bundle = stat.isDirectory() ? await packDirectory(req.source, work) : req.source;
      const code = await this.uploadCode(bundle, req.onProgress);
      const existing = await this.getFunction(req.name).catch((err: unknown) => {
        if (err instanceof StratusError && err.code === 'FunctionNotFound') return undefined;
        throw err;
      });
      if (!existing) {
        if (!req.settings.runtime) throw new StratusError('InvalidRequest', `function '${req.name}' is new: say which runtime it uses (--runtime nodejs|python|provided)`);
        const created = await this.createFunction(req.name, { ...req.settings, runtime: req.settings.runtime }, code.sha256);
        return { function: created, created: true, codeChanged: true };
      }
      const codeChanged = existing.code.sha256 !== code.sha256;
      let fn = codeChanged ? await this.updateFunctionCode(req.name, code.sha256, existing.revisionId) : existing;
      if (Object.values(req.settings).some((v) => v !== undefined)) fn = await this.updateFunctionConfiguration(req.name, req.settings);
      return { function: fn, created: false, codeChanged };
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  }

  /** Invokes synchronously. A function error is a normal result (see functionError), not a throw. */
  async invoke(name: string, payload: Buffer | string | undefined, options: InvokeOptions = {}): Promise<InvokeResult> {
    const body = payload === undefined ? Buffer.alloc(0) : Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    if (body.length > LIMITS.maxSyncPayloadBytes) {
      throw new StratusError('PayloadTooLarge', `the payload is ${body.length} bytes, over the ${LIMITS.maxSyncPayloadBytes}-byte limit for synchronous invocations: send a reference to the data instead`);
    }
    // Without a deadline the router allows the function's timeout plus start-up slack.
    const deadline = options.timeoutMs ? Date.now() + options.timeoutMs : Infinity;
    const request = {
      functionName: name,
      qualifier: options.qualifier ?? '',
      payload: body,
      logType: options.logType === 'Tail' ? LogType.LOG_TYPE_TAIL : LogType.LOG_TYPE_NONE,
      clientContext: options.clientContext === undefined ? '' : JSON.stringify(options.clientContext),
    };
    const res = await this.call<InvokeResponse>('invoke', 'Invoke', deadline, options.signal, (s, md, opts, cb) => s.invoke.invoke(request, md, opts, cb));
    return {
      requestId: res.requestId,
      executedVersion: res.executedVersion,
      payload: res.payload,
      functionError: res.functionError
        ? { kind: res.functionError.kind, errorType: res.functionError.errorType, errorMessage: res.functionError.errorMessage, stackTrace: res.functionError.stackTrace }
        : undefined,
      logTail: res.logTail,
      report: res.report
        ? {
            durationMs: res.report.durationMs,
            billedDurationMs: res.report.billedDurationMs,
            initDurationMs: res.report.initDurationMs,
            memorySizeMb: res.report.memorySizeMb,
            maxMemoryUsedMb: res.report.maxMemoryUsedMb,
            coldStart: res.report.coldStart,
            agentId: res.report.agentId,
          }
        : undefined,
    };
  }

  /**
   * Invokes asynchronously: resolves once the event is durably stored, with its request id.
   * Pass `requestId` to make the call idempotent (a repeat within the window enqueues nothing).
   * Calls made in the same turn of the event loop travel together in one InvokeAsyncBatch call,
   * each still answered on its own. Every event carries a request id (the SDK makes one up when
   * none is given), so a retry after a lost answer never enqueues twice, and the SDK retries.
   */
  async invokeAsync(name: string, payload: Buffer | string | undefined, options: { qualifier?: string; requestId?: string; timeoutMs?: number } = {}): Promise<{ requestId: string; duplicate: boolean }> {
    const body = payload === undefined ? Buffer.alloc(0) : Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
    if (body.length > LIMITS.maxAsyncPayloadBytes) {
      throw new StratusError('PayloadTooLarge', `the event is ${body.length} bytes, over the ${LIMITS.maxAsyncPayloadBytes}-byte limit for asynchronous invocations: send a reference to the data instead`);
    }
    return this.asyncBatcher.add({
      request: { functionName: name, qualifier: options.qualifier ?? '', payload: body, requestId: options.requestId || randomUUID() },
      generatedId: !options.requestId,
      deadlineMs: Date.now() + (options.timeoutMs ?? this.options.defaultTimeoutMs),
    });
  }

  /** A page of a function's dead letters, oldest first; pass `next` back as `afterSequence` for the next page (0 when done). */
  async listDeadLetters(name: string, afterSequence = 0, maxItems = 100): Promise<{ deadLetters: DeadLetterInfo[]; next: number }> {
    const res = await this.call<ListDeadLettersResponse>('read', 'ListDeadLetters', this.deadline(), undefined, (s, md, opts, cb) =>
      s.deadLetters.listDeadLetters({ functionName: name, afterSequence, maxItems }, md, opts, cb),
    );
    return { deadLetters: res.deadLetters.map(deadLetterFromPb), next: res.nextAfterSequence };
  }

  /** One dead letter with its full invocation record. */
  async getDeadLetter(name: string, sequence: number): Promise<DeadLetterInfo> {
    const res = await this.call<DeadLetterPb>('read', 'GetDeadLetter', this.deadline(), undefined, (s, md, opts, cb) => s.deadLetters.getDeadLetter({ functionName: name, sequence }, md, opts, cb));
    return deadLetterFromPb(res);
  }

  /** Runs dead letters again as new async invocations (all of the function's when `sequences` is empty). */
  async redriveDeadLetters(name: string, sequences: number[] = []): Promise<{ redriven: number; requestIds: string[] }> {
    return this.call<RedriveDeadLettersResponse>('write', 'RedriveDeadLetters', this.deadline(), undefined, (s, md, opts, cb) =>
      s.deadLetters.redriveDeadLetters({ functionName: name, sequences }, md, opts, cb),
    );
  }

  /** Deletes all of a function's dead letters; returns how many. */
  async purgeDeadLetters(name: string): Promise<number> {
    const res = await this.call<PurgeDeadLettersResponse>('write', 'PurgeDeadLetters', this.deadline(), undefined, (s, md, opts, cb) => s.deadLetters.purgeDeadLetters({ functionName: name }, md, opts, cb));
    return res.purged;
  }

  /**
   * Publishes a folder, zip or tar.gz as the next version of a layer. Unpacked in order into
   * /opt: Node modules go under nodejs/node_modules, Python packages under python/, a custom
   * runtime's executable at bootstrap.
   */
  async publishLayer(name: string, source: string, options: { compatibleRuntimes?: string[]; description?: string; onProgress?: UploadProgress } = {}): Promise<LayerInfo> {
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'stratus-layer-'));
    try {
      const stat = await fs.stat(source).catch(() => undefined);
      if (!stat) throw new StratusError('InvalidRequest', `'${source}' does not exist: pass a folder, a .zip or a .tar.gz`);
      const bundle = stat.isDirectory() ? await packDirectory(source, work) : source;
      const code = await this.uploadCode(bundle, options.onProgress);
      const res = await this.call<LayerVersionPb>('write', 'PublishLayerVersion', this.deadline(), undefined, (s, md, opts, cb) =>
        s.layers.publishLayerVersion({ name, codeSha256: code.sha256, compatibleRuntimes: options.compatibleRuntimes ?? [], description: options.description ?? '' }, md, opts, cb),
      );
      return layerFromPb(res);
    } finally {
      await fs.rm(work, { recursive: true, force: true });
    }
  }

  /** The latest version of every layer. */
  async listLayers(): Promise<LayerInfo[]> {
    const res = await this.call<ListLayersResponse>('read', 'ListLayers', this.deadline(), undefined, (s, md, opts, cb) => s.layers.listLayers({}, md, opts, cb));
    return res.layers.map(layerFromPb);
  }

  /** Every version of one layer. */
  async listLayerVersions(name: string): Promise<LayerInfo[]> {
    const res = await this.call<ListLayersResponse>('read', 'ListLayerVersions', this.deadline(), undefined, (s, md, opts, cb) => s.layers.listLayerVersions({ name }, md, opts, cb));
    return res.layers.map(layerFromPb);
  }

  /** One layer version. */
  async getLayerVersion(name: string, version: number): Promise<LayerInfo> {
    return layerFromPb(await this.call<LayerVersionPb>('read', 'GetLayerVersion', this.deadline(), undefined, (s, md, opts, cb) => s.layers.getLayerVersion({ name, version }, md, opts, cb)));
  }

  /** Deletes a layer version; functions using it keep running. */
  async deleteLayerVersion(name: string, version: number): Promise<void> {
    await this.call('write', 'DeleteLayerVersion', this.deadline(), undefined, (s, md, opts, cb) => s.layers.deleteLayerVersion({ name, version }, md, opts, cb));
  }

  /**
   * Maps `METHOD path` (or `ANY $default`) on every router's HTTP port to a function. `auth`
   * defaults to none (public, as API Gateway); `token` requires an API token as a bearer token.
   * Creating the same route again with the same target returns it unchanged.
   */
  async createRoute(method: string, path: string, functionName: string, options: { auth?: RouteAuth } = {}): Promise<RouteInfo> {
    const res = await this.call<RoutePb>('write', 'CreateRoute', this.deadline(), undefined, (s, md, opts, cb) =>
      s.routes.createRoute({ method, path, functionName, auth: routeAuthToPb(options.auth) }, md, opts, cb),
    );
    return routeFromPb(res);
  }

  /** Every route, in the order requests are matched against them. */
  async listRoutes(): Promise<RouteInfo[]> {
    const res = await this.call<ListRoutesResponse>('read', 'ListRoutes', this.deadline(), undefined, (s, md, opts, cb) => s.routes.listRoutes({}, md, opts, cb));
    return res.routes.map(routeFromPb);
  }

  /** Deletes a route by id; ResourceNotFound when absent. */
  async deleteRoute(id: string): Promise<void> {
    await this.call('write', 'DeleteRoute', this.deadline(), undefined, (s, md, opts, cb) => s.routes.deleteRoute({ id }, md, opts, cb));
  }

  /**
   * Gives a function its own URL, `/fn/<name>/…` on every router's HTTP port, or changes its auth.
   * A new URL defaults to `token` auth; leaving `auth` out keeps an existing URL's.
   */
  async putFunctionUrl(functionName: string, options: { auth?: RouteAuth } = {}): Promise<FunctionUrlInfo> {
    const res = await this.call<FunctionUrlPb>('write', 'PutFunctionUrl', this.deadline(), undefined, (s, md, opts, cb) =>
      s.routes.putFunctionUrl({ functionName, auth: routeAuthToPb(options.auth) }, md, opts, cb),
    );
    return functionUrlFromPb(res);
  }

  /** A function's URL; ResourceNotFound when it has none. */
  async getFunctionUrl(functionName: string): Promise<FunctionUrlInfo> {
    return functionUrlFromPb(await this.call<FunctionUrlPb>('read', 'GetFunctionUrl', this.deadline(), undefined, (s, md, opts, cb) => s.routes.getFunctionUrl({ functionName }, md, opts, cb)));
  }

  /** Every function URL. */
  async listFunctionUrls(): Promise<FunctionUrlInfo[]> {
    const res = await this.call<ListFunctionUrlsResponse>('read', 'ListFunctionUrls', this.deadline(), undefined, (s, md, opts, cb) => s.routes.listFunctionUrls({}, md, opts, cb));
    return res.urls.map(functionUrlFromPb);
  }

  /** Removes a function's URL; ResourceNotFound when it has none. */
  async deleteFunctionUrl(functionName: string): Promise<void> {
    await this.call('write', 'DeleteFunctionUrl', this.deadline(), undefined, (s, md, opts, cb) => s.routes.deleteFunctionUrl({ functionName }, md, opts, cb));
  }

  /** Subscribes a function to a NATS subject pattern (`orders.*`, `audit.>`): each matching event becomes an async invocation. */
  async createTrigger(functionName: string, subject: string, options: CreateTriggerOptions = {}): Promise<TriggerInfo> {
    const filter = options.filter === undefined ? '' : typeof options.filter === 'string' ? options.filter : JSON.stringify(options.filter);
    const res = await this.call<TriggerPb>('write', 'CreateTrigger', this.deadline(), undefined, (s, md, opts, cb) => s.triggers.createTrigger({ functionName, subject, filter }, md, opts, cb));
    return triggerFromPb(res);
  }

  /** Every trigger, or one function's. */
  async listTriggers(functionName = ''): Promise<TriggerInfo[]> {
    const res = await this.call<ListTriggersResponse>('read', 'ListTriggers', this.deadline(), undefined, (s, md, opts, cb) => s.triggers.listTriggers({ functionName }, md, opts, cb));
    return res.triggers.map(triggerFromPb);
  }

  /** Deletes a trigger; ResourceNotFound when absent. */
  async deleteTrigger(id: string): Promise<void> {
    await this.call('write', 'DeleteTrigger', this.deadline(), undefined, (s, md, opts, cb) => s.triggers.deleteTrigger({ id }, md, opts, cb));
  }

  /** Publishes an event to a subject, as any NATS client could; with a msg id the call is retried safely. */
  async publish(subject: string, payload: Buffer | string, options: PublishOptions = {}): Promise<PublishResult> {
    const request = { subject, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), msgId: options.msgId ?? '', headers: { ...options.headers } };
    const deadline = Date.now() + (options.timeoutMs ?? this.options.defaultTimeoutMs);
    const res = await this.call<PublishResponse>(options.msgId ? 'read' : 'write', 'Publish', deadline, undefined, (s, md, opts, cb) => s.events.publish(request, md, opts, cb));
    return publishResultFromPb(res);
  }

  /** Invokes a function on a schedule: `rate(5 minutes)`, `cron(0 12 * * ? *)` or five cron fields. */
  async createSchedule(functionName: string, expression: string, options: CreateScheduleOptions = {}): Promise<ScheduleInfo> {
    const payload = options.payload === undefined ? '' : typeof options.payload === 'string' ? options.payload : JSON.stringify(options.payload);
    const request = { functionName, expression, timezone: options.timezone ?? '', payload, missedTicks: missedTicksToPb(options.missedTicks) };
    return scheduleFromPb(await this.call<SchedulePb>('write', 'CreateSchedule', this.deadline(), undefined, (s, md, opts, cb) => s.schedules.createSchedule(request, md, opts, cb)));
  }

  /** Every schedule, or one function's. */
  async listSchedules(functionName = ''): Promise<ScheduleInfo[]> {
    const res = await this.call<ListSchedulesResponse>('read', 'ListSchedules', this.deadline(), undefined, (s, md, opts, cb) => s.schedules.listSchedules({ functionName }, md, opts, cb));
    return res.schedules.map(scheduleFromPb);
  }

  /** Deletes a schedule; ResourceNotFound when absent. */
  async deleteSchedule(id: string): Promise<void> {
    await this.call('write', 'DeleteSchedule', this.deadline(), undefined, (s, md, opts, cb) => s.schedules.deleteSchedule({ id }, md, opts, cb));
  }

  /** The agents and routers a router sees, and the replica count it uses. */
  async getCluster(): Promise<ClusterInfo> {
    return this.call('read', 'GetCluster', this.deadline(), undefined, (s, md, opts, cb) => s.cluster.getCluster({}, md, opts, cb));
  }

  /** Closes every connection. */
  close(): void {
    for (const s of this.stubs.values()) {
      s.functions.close();
      s.invoke.close();
      s.cluster.close();
      s.deadLetters.close();
      s.layers.close();
      s.routes.close();
      s.triggers.close();
      s.events.close();
      s.schedules.close();
      s.mappings.close();
      s.tables.close();
      s.buckets.close();
      s.channel.close();
    }
    this.stubs.clear();
  }

  private deadline(): number {
    return Date.now() + this.options.defaultTimeoutMs;
  }

  private stubsFor(endpoint: string): Stubs {
    let s = this.stubs.get(endpoint);
    if (!s) {
      const creds = grpc.credentials.createInsecure();
      const channelOptions = {
        'grpc.max_receive_message_length': LIMITS.maxGrpcMessageBytes,
        'grpc.max_send_message_length': LIMITS.maxGrpcMessageBytes,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      };
      const channel = new grpc.Channel(endpoint, creds, channelOptions);
      const opts = { ...channelOptions, channelOverride: channel };
      s = {
        channel,
        functions: new FunctionServiceClient(endpoint, creds, opts),
        invoke: new InvokeServiceClient(endpoint, creds, opts),
        cluster: new ClusterServiceClient(endpoint, creds, opts),
        deadLetters: new DeadLetterServiceClient(endpoint, creds, opts),
        layers: new LayerServiceClient(endpoint, creds, opts),
        routes: new RouteServiceClient(endpoint, creds, opts),
        triggers: new TriggerServiceClient(endpoint, creds, opts),
        events: new EventServiceClient(endpoint, creds, opts),
        schedules: new ScheduleServiceClient(endpoint, creds, opts),
        mappings: new MappingServiceClient(endpoint, creds, opts),
        tables: new TableServiceClient(endpoint, creds, opts),
        buckets: new BucketServiceClient(endpoint, creds, opts),
      };
      this.stubs.set(endpoint, s);
    }
    return s;
  }

  /** Waits until the endpoint's channel is connected; false when it cannot be reached in time. */
  private connect(s: Stubs, deadline: number): Promise<boolean> {
    return waitForChannelReady(s.channel, Math.min(deadline, Date.now() + this.options.connectTimeoutMs));
  }

  private async call<T>(
    cls: RetryClass,
    method: string,
    deadline: number,
    signal: AbortSignal | undefined,
    send: (s: Stubs, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: T) => void) => grpc.ClientUnaryCall | grpc.ClientWritableStream<unknown>,
  ): Promise<T> {
    return tracer.startActiveSpan(`stratus.client.${method}`, { kind: SpanKind.CLIENT }, async (span) => {
      try {
        return await this.attempt(cls, deadline, signal, send);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof StratusError ? err.code : String(err) });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  private async attempt<T>(
    cls: RetryClass,
    deadline: number,
    signal: AbortSignal | undefined,
    send: (s: Stubs, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: T) => void) => grpc.ClientUnaryCall | grpc.ClientWritableStream<unknown>,
  ): Promise<T> {
    const { endpoints } = this.options;
    let lastError: StratusError | undefined;
    for (let attempt = 0; attempt < this.options.maxAttempts; attempt += 1) {
      // Try every router once per attempt; a router that cannot be reached never saw the request.
      let reached: Stubs | undefined;
      for (let i = 0; i < endpoints.length && !reached; i += 1) {
        const endpoint = endpoints[this.current % endpoints.length] as string;
        const s = this.stubsFor(endpoint);
        if (await this.connect(s, deadline)) reached = s;
        else {
          lastError = new StratusError('ServiceUnavailable', `cannot reach a Stratus router at ${endpoint}: start the cluster (npm run dev) or point STRATUS_ENDPOINT at a running router`);
          this.current += 1;
        }
      }
      if (reached) {
        try {
          return await this.once(reached, deadline, signal, send);
        } catch (err) {
          lastError = err as StratusError;
          if (!retryableFor(cls, lastError)) throw lastError;
        }
      }
      if (attempt + 1 >= this.options.maxAttempts) break;
      const delay = Math.max(lastError?.retryAfterMs ?? 0, backoffMs(attempt, this.options.backoffBaseMs, this.options.backoffCapMs));
      if (Date.now() + delay >= deadline) break;
      await sleep(delay, signal);
    }
    throw lastError ?? new StratusError('ServiceUnavailable', 'no router answered');
  }

  private once<T>(
    s: Stubs,
    deadline: number,
    signal: AbortSignal | undefined,
    send: (s: Stubs, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: T) => void) => grpc.ClientUnaryCall | grpc.ClientWritableStream<unknown>,
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(new StratusError('Cancelled', 'the call was cancelled'));
    const metadata = injectIntoMetadata(withBearer(new grpc.Metadata(), this.options.token));
    return new Promise<T>((resolve, reject) => {
      const call = send(s, metadata, Number.isFinite(deadline) ? { deadline } : {}, (err, res) => {
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(fromGrpcError(err));
        else resolve(res);
      });
      const onAbort = (): void => call.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
