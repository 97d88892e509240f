import type { CodeRef, FunctionConfigPatch, FunctionRecord } from '../core/function-config';
import type { DeadLetterFields } from '../core/dead-letter';

/** A function as the API returns it. */
export type FunctionInfo = FunctionRecord;

/** Settings for a function; everything but the name is optional and gets the documented default. */
export type FunctionSettings = Omit<FunctionConfigPatch, 'name'>;

/** How a function failed (the call itself succeeded). */
export interface FunctionErrorInfo {
  /** "Unhandled", as Lambda's X-Amz-Function-Error. */
  kind: string;
  errorType: string;
  errorMessage: string;
  stackTrace: string[];
}

/** REPORT-line facts about an invocation. */
export interface InvocationReport {
  durationMs: number;
  billedDurationMs: number;
  initDurationMs?: number;
  memorySizeMb: number;
  maxMemoryUsedMb: number;
  coldStart: boolean;
  agentId: string;
}

/** The outcome of a synchronous invocation. */
export interface InvokeResult {
  /** Lambda's StatusCode: 200 when the function ran, 204 for a dry run. */
  statusCode: number;
  requestId: string;
  executedVersion: string;
  /** The function's result bytes, or the error object when functionError is set. */
  payload: Buffer;
  functionError?: FunctionErrorInfo;
  /** Last 4 KB of the log, when requested with logType "Tail". */
  logTail: string;
  report?: InvocationReport;
}

/** Options for one invocation. */
export interface InvokeOptions {
  qualifier?: string;
  /** "Tail" returns the last 4 KB of the log. */
  logType?: 'None' | 'Tail';
  /** JSON handed to the function as context.clientContext. */
  clientContext?: unknown;
  /** Deadline for the call; default the function timeout plus slack. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Lambda's DryRun: only check that the caller may invoke and the function exists; nothing runs (statusCode 204). */
  dryRun?: boolean;
}

/** Progress of an upload, for progress bars. */
export type UploadProgress = (sentBytes: number, totalBytes: number) => void;

/** What a deploy does: create, or update code and configuration. */
export interface DeployRequest {
  name: string;
  /** A folder, a .zip or a .tar.gz. */
  source: string;
  settings: FunctionSettings & { runtime?: string };
  onProgress?: UploadProgress;
}

/** What a deploy did. */
export interface DeployResult {
  function: FunctionInfo;
  created: boolean;
  codeChanged: boolean;
}

/** An agent as a router sees it. */
export interface AgentInfo {
  agentId: string;
  address: string;
  state: string;
  memoryTotalMb: number;
  memoryFreeMb: number;
  slotsTotal: number;
  slotsFree: number;
  functions: Array<{ functionName: string; revisionId: string; idle: number; busy: number; starting: number }>;
  lastHeartbeatMs: number;
}

/** A router as the answering router knows it, from router heartbeats. */
export interface RouterInfo {
  routerId: string;
  /** host:port of its gRPC API. */
  address: string;
  state: string;
  /** Port of its HTTP gateway and health endpoints; -1 when disabled. */
  httpPort: number;
  /** Agents that router sees. */
  agents: number;
  startedMs: number;
  lastHeartbeatMs: number;
}

/** The cluster as one router sees it. */
export interface ClusterInfo {
  /** The router that answered. */
  routerId: string;
  agents: AgentInfo[];
  /** Every live router, the answering one included (empty from routers older than this field). */
  routers: RouterInfo[];
  /** Replicas the answering router gives the streams, KV buckets and object store it creates. */
  replicas: number;
}

/** An async event that failed for good, with Lambda's invocation record. */
export interface DeadLetterInfo extends DeadLetterFields {
  time: Date;
  /** The invocation record: requestContext, requestPayload, responseContext, responsePayload. */
  record: unknown;
}

/** A layer version. */
export interface LayerInfo {
  name: string;
  version: number;
  /** "name:version", as functions reference it. */
  ref: string;
  code: CodeRef;
  compatibleRuntimes: string[];
  description: string;
  created: Date;
}
