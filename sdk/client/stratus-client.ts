import { StratusError } from '../core/errors';
import type { CodeRef } from '../core/function-config';
import { resolveClientOptions, type StratusClientOptions } from './client-options';
import { AsyncBatcher } from './async-batcher';
import * as deadLetters from './dead-letters-api';
import * as eventSources from './event-sources-api';
import * as functions from './functions-api';
import * as invocations from './invoke-api';
import * as layers from './layers-api';
import { AuthClient } from './auth-client';
import { UsageClient } from './usage-client';
import { VersionsClient } from './versions-client';
import { InvocationsClient, readLogs, type LogsOptions } from './observability-client';
import type { LogEntry } from '../core/function-logs';
import { MappingClient } from './mapping-client';
import * as routes from './routes-api';
import { RouterTransport } from './router-transport';
import { BucketClient, TableClient } from './table-client';
import type { CreateScheduleOptions, CreateTriggerOptions, PublishOptions, PublishResult, ScheduleInfo, TriggerInfo } from './event-source-types';
import type { FunctionUrlInfo, RouteAuth, RouteInfo } from './route-types';
import type { ClusterInfo, DeadLetterInfo, DeployRequest, DeployResult, FunctionInfo, FunctionSettings, InvokeOptions, InvokeResult, LayerInfo, UploadProgress } from './types';

/**
 * The typed client for the Stratus API. Deadlines on every call, retries only where they are
 * safe, and failover across routers when one cannot be reached (a request that never left
 * is always safe to send elsewhere): all of that is the RouterTransport's; the methods here
 * say what to send, grouped by area in the *-api.ts files beside this one.
 */
export class StratusClient {
  private readonly transport: RouterTransport;
  private readonly asyncBatcher: AsyncBatcher;
  /** Event source mappings: streams, tables and buckets feeding functions in batches. */
  readonly mappings: MappingClient;
  /** Tables (KV buckets) and their items. */
  readonly tables: TableClient;
  /** Buckets of objects (Object Store). */
  readonly buckets: BucketClient;
  /** Identity and permissions: tokens, execution roles, resource policies. */
  readonly auth: AuthClient;
  /** Metering: a month's requests, billed duration, GB-seconds and cost. */
  readonly usage: UsageClient;
  /** Invocation records: what each invocation did, from any entry point. */
  readonly invocations: InvocationsClient;
  /** Published versions and aliases (with weighted traffic) of functions. */
  readonly versions: VersionsClient;

  /**
   * A client for code running inside a function: it calls the router the invocation came through
   * (STRATUS_ENDPOINT) with the invocation's execution-role credentials (STRATUS_TOKEN), both read
   * on every call because they change with each invocation. A function without a role has no
   * credentials, and every call fails with Unauthenticated.
   */
  static fromFunctionEnvironment(env: NodeJS.ProcessEnv = process.env, options: Partial<StratusClientOptions> = {}): StratusClient {
    const endpoint = env.STRATUS_ENDPOINT;
    if (!endpoint) throw new StratusError('InvalidRequest', 'STRATUS_ENDPOINT is not set: this runs outside a Stratus function, or the agent gives functions no router address (STRATUS_FUNCTION_API_ENDPOINT)');
    return new StratusClient({ endpoints: endpoint, token: () => env.STRATUS_TOKEN ?? '', ...options });
  }

  constructor(options: StratusClientOptions) {
    this.transport = new RouterTransport(resolveClientOptions(options));
    this.mappings = new MappingClient(this.transport.unary);
    this.tables = new TableClient(this.transport.unary);
    this.buckets = new BucketClient(this.transport.unary);
    this.auth = new AuthClient(this.transport.unary);
    this.usage = new UsageClient(this.transport.unary);
    this.invocations = new InvocationsClient(this.transport);
    this.versions = new VersionsClient(this.transport.unary);
    this.asyncBatcher = new AsyncBatcher(invocations.asyncBatchSender(this.transport));
  }

  /**
   * A function's log lines (stdout, stderr and START / END / REPORT), in the order they were
   * written, from its log stream: `for await (const line of client.logs('hello', { follow: true }))`.
   * With `follow`, new lines arrive as they are stored until the loop breaks or `signal` aborts.
   */
  logs(functionName: string, options: LogsOptions = {}): AsyncGenerator<LogEntry> {
    return readLogs(this.transport, functionName, options);
  }

  /** Uploads a bundle file (zip or tar.gz) in chunks; returns where it is stored. */
  async uploadCode(file: string, onProgress?: UploadProgress): Promise<CodeRef & { alreadyStored: boolean }> {
    return functions.uploadCode(this.transport, file, onProgress);
  }

  /** Creates a function from uploaded code. */
  async createFunction(name: string, settings: FunctionSettings & { runtime: string }, codeSha256: string): Promise<FunctionInfo> {
    return functions.createFunction(this.transport, name, settings, codeSha256);
  }

  /** Points a function at new uploaded code. */
  async updateFunctionCode(name: string, codeSha256: string, expectedRevisionId = ''): Promise<FunctionInfo> {
    return functions.updateFunctionCode(this.transport, name, codeSha256, expectedRevisionId);
  }

  /**
   * Changes a function's settings. Fields left undefined keep their value; `mask` (proto field
   * names) applies exactly the named fields, which is how a value is cleared.
   */
  async updateFunctionConfiguration(name: string, settings: FunctionSettings, mask: string[] = []): Promise<FunctionInfo> {
    return functions.updateFunctionConfiguration(this.transport, name, settings, mask);
  }

  /** A function's $LATEST configuration; FunctionNotFound when absent. */
  async getFunction(name: string): Promise<FunctionInfo> {
    return functions.getFunction(this.transport, name);
  }

  /** Every function, following pages. */
  async listFunctions(): Promise<FunctionInfo[]> {
    return functions.listFunctions(this.transport);
  }

  /** Deletes a function; FunctionNotFound when absent. */
  async deleteFunction(name: string): Promise<void> {
    return functions.deleteFunction(this.transport, name);
  }

  /**
   * Deploys a folder, zip or tar.gz: uploads the code (skipped by the server when unchanged),
   * then creates the function or updates its code and settings.
   */
  async deploy(req: DeployRequest): Promise<DeployResult> {
    return functions.deploy(this.transport, req);
  }

  /** Invokes synchronously. A function error is a normal result (see functionError), not a throw. */
  async invoke(name: string, payload: Buffer | string | undefined, options: InvokeOptions = {}): Promise<InvokeResult> {
    return invocations.invoke(this.transport, name, payload, options);
  }

  /**
   * Invokes asynchronously: resolves once the event is durably stored, with its request id.
   * Pass `requestId` to make the call idempotent (a repeat within the window enqueues nothing).
   * Calls made in the same turn of the event loop travel together in one InvokeAsyncBatch call,
   * each still answered on its own. Every event carries a request id (the SDK makes one up when
   * none is given), so a retry after a lost answer never enqueues twice, and the SDK retries.
   */
  async invokeAsync(name: string, payload: Buffer | string | undefined, options: { qualifier?: string; requestId?: string; timeoutMs?: number } = {}): Promise<{ requestId: string; duplicate: boolean }> {
    return invocations.invokeAsync(this.transport, this.asyncBatcher, name, payload, options);
  }

  /** A page of a function's dead letters, oldest first; pass `next` back as `afterSequence` for the next page (0 when done). */
  async listDeadLetters(name: string, afterSequence = 0, maxItems = 100): Promise<{ deadLetters: DeadLetterInfo[]; next: number }> {
    return deadLetters.listDeadLetters(this.transport, name, afterSequence, maxItems);
  }

  /** One dead letter with its full invocation record. */
  async getDeadLetter(name: string, sequence: number): Promise<DeadLetterInfo> {
    return deadLetters.getDeadLetter(this.transport, name, sequence);
  }

  /** Runs dead letters again as new async invocations (all of the function's when `sequences` is empty). */
  async redriveDeadLetters(name: string, sequences: number[] = []): Promise<{ redriven: number; requestIds: string[] }> {
    return deadLetters.redriveDeadLetters(this.transport, name, sequences);
  }

  /** Deletes all of a function's dead letters; returns how many. */
  async purgeDeadLetters(name: string): Promise<number> {
    return deadLetters.purgeDeadLetters(this.transport, name);
  }

  /**
   * Publishes a folder, zip or tar.gz as the next version of a layer. Unpacked in order into
   * /opt: Node modules go under nodejs/node_modules, Python packages under python/, a custom
   * runtime's executable at bootstrap.
   */
  async publishLayer(name: string, source: string, options: { compatibleRuntimes?: string[]; description?: string; onProgress?: UploadProgress } = {}): Promise<LayerInfo> {
    return layers.publishLayer(this.transport, name, source, options);
  }

  /** The latest version of every layer. */
  async listLayers(): Promise<LayerInfo[]> {
    return layers.listLayers(this.transport);
  }

  /** Every version of one layer. */
  async listLayerVersions(name: string): Promise<LayerInfo[]> {
    return layers.listLayerVersions(this.transport, name);
  }

  /** One layer version. */
  async getLayerVersion(name: string, version: number): Promise<LayerInfo> {
    return layers.getLayerVersion(this.transport, name, version);
  }

  /** Deletes a layer version; functions using it keep running. */
  async deleteLayerVersion(name: string, version: number): Promise<void> {
    return layers.deleteLayerVersion(this.transport, name, version);
  }

  /**
   * Maps `METHOD path` (or `ANY $default`) on every router's HTTP port to a function. `auth`
   * defaults to none (public, as API Gateway); `token` requires an API token as a bearer token.
   * Creating the same route again with the same target returns it unchanged.
   */
  async createRoute(method: string, path: string, functionName: string, options: { auth?: RouteAuth; qualifier?: string } = {}): Promise<RouteInfo> {
    return routes.createRoute(this.transport, method, path, functionName, options.auth, options.qualifier);
  }

  /** Every route, in the order requests are matched against them. */
  async listRoutes(): Promise<RouteInfo[]> {
    return routes.listRoutes(this.transport);
  }

  /** Deletes a route by id; ResourceNotFound when absent. */
  async deleteRoute(id: string): Promise<void> {
    return routes.deleteRoute(this.transport, id);
  }

  /**
   * Gives a function its own URL, `/fn/<name>/…` on every router's HTTP port, or changes its auth.
   * A new URL defaults to `token` auth; leaving `auth` out keeps an existing URL's.
   */
  async putFunctionUrl(functionName: string, options: { auth?: RouteAuth } = {}): Promise<FunctionUrlInfo> {
    return routes.putFunctionUrl(this.transport, functionName, options.auth);
  }

  /** A function's URL; ResourceNotFound when it has none. */
  async getFunctionUrl(functionName: string): Promise<FunctionUrlInfo> {
    return routes.getFunctionUrl(this.transport, functionName);
  }

  /** Every function URL. */
  async listFunctionUrls(): Promise<FunctionUrlInfo[]> {
    return routes.listFunctionUrls(this.transport);
  }

  /** Removes a function's URL; ResourceNotFound when it has none. */
  async deleteFunctionUrl(functionName: string): Promise<void> {
    return routes.deleteFunctionUrl(this.transport, functionName);
  }

  /** Subscribes a function to a NATS subject pattern (`orders.*`, `audit.>`): each matching event becomes an async invocation. */
  async createTrigger(functionName: string, subject: string, options: CreateTriggerOptions = {}): Promise<TriggerInfo> {
    return eventSources.createTrigger(this.transport, functionName, subject, options);
  }

  /** Every trigger, or one function's. */
  async listTriggers(functionName = ''): Promise<TriggerInfo[]> {
    return eventSources.listTriggers(this.transport, functionName);
  }

  /** Deletes a trigger; ResourceNotFound when absent. */
  async deleteTrigger(id: string): Promise<void> {
    return eventSources.deleteTrigger(this.transport, id);
  }

  /** Publishes an event to a subject, as any NATS client could; with a msg id the call is retried safely. */
  async publish(subject: string, payload: Buffer | string, options: PublishOptions = {}): Promise<PublishResult> {
    return eventSources.publish(this.transport, subject, payload, options);
  }

  /** Invokes a function on a schedule: `rate(5 minutes)`, `cron(0 12 * * ? *)` or five cron fields. */
  async createSchedule(functionName: string, expression: string, options: CreateScheduleOptions = {}): Promise<ScheduleInfo> {
    return eventSources.createSchedule(this.transport, functionName, expression, options);
  }

  /** Every schedule, or one function's. */
  async listSchedules(functionName = ''): Promise<ScheduleInfo[]> {
    return eventSources.listSchedules(this.transport, functionName);
  }

  /** Deletes a schedule; ResourceNotFound when absent. */
  async deleteSchedule(id: string): Promise<void> {
    return eventSources.deleteSchedule(this.transport, id);
  }

  /** The agents and routers a router sees, and the replica count it uses. */
  async getCluster(): Promise<ClusterInfo> {
    return this.transport.call('read', 'GetCluster', this.transport.deadline(), undefined, (s, md, opts, cb) => s.cluster.getCluster({}, md, opts, cb));
  }

  /** Closes every connection. */
  close(): void {
    this.transport.close();
  }
}
