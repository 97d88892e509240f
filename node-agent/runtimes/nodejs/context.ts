/**
 * Builds the `context` object handed to Node handlers from the `/next` headers and the function's
 * environment, with the field names of aws-lambda-ric 3.x plus Stratus' W3C trace context.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { RuntimeError } from './errors';

/** Function-wide context fields, read once from the environment at startup. */
export interface FunctionInfo {
  functionName: string;
  functionVersion: string;
  /** A string, as in the Node RIC (it passes the environment value through). */
  memoryLimitInMB: string;
  logGroupName: string;
  logStreamName: string;
}

/** `context.identity` as the RIC parses it from Lambda-Runtime-Cognito-Identity. */
export interface CognitoIdentity {
  cognitoIdentityId?: string;
  cognitoIdentityPoolId?: string;
}

/** Everything the runtime learns about one invocation from the `/next` response headers. */
export interface InvocationMeta {
  requestId: string;
  deadlineMs: number;
  invokedFunctionArn: string;
  xrayTraceId?: string;
  traceparent?: string;
  tracestate?: string;
  clientContext?: unknown;
  identity?: CognitoIdentity;
}

/** The RIC's legacy completion methods, bound to one invocation. */
export interface LegacyCompletion {
  done(err?: unknown, result?: unknown): void;
  succeed(result?: unknown): void;
  fail(err?: unknown): void;
}

/** The second handler argument; mutable where user code is allowed to change it. */
export interface LambdaContext extends LegacyCompletion, FunctionInfo {
  awsRequestId: string;
  invokedFunctionArn: string;
  identity: CognitoIdentity | undefined;
  clientContext: unknown;
  /** W3C trace context of the invocation (Stratus), so functions can join the caller's trace. */
  traceparent: string | undefined;
  tracestate: string | undefined;
  /** Respond to a `callback(null, result)` only once the event loop is empty (RIC 3 default: true). */
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

// Header names as the Runtime API reference spells them; Node lower-cases incoming names.
const H = {
  requestId: 'lambda-runtime-aws-request-id',
  deadline: 'lambda-runtime-deadline-ms',
  arn: 'lambda-runtime-invoked-function-arn',
  traceId: 'lambda-runtime-trace-id',
  clientContext: 'lambda-runtime-client-context',
  identity: 'lambda-runtime-cognito-identity',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  sessionToken: 'stratus-session-token',
  apiEndpoint: 'stratus-api-endpoint',
} as const;

// The RIE omits empty headers; treating "" as absent keeps both behaviours the same.
function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const raw = headers[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === undefined || value === '' ? undefined : value;
}

/** The request id alone: without it no result can be posted, so the caller treats its absence as fatal. */
export function readRequestId(headers: IncomingHttpHeaders): string | undefined {
  return header(headers, H.requestId);
}

/**
 * Parses the invocation headers. Missing ARN or deadline, a non-numeric deadline and malformed JSON in
 * client context or identity fail the invocation with `Runtime.PlatformError`, as in the Node RIC.
 */
export function parseInvocationMeta(headers: IncomingHttpHeaders): InvocationMeta {
  const requestId = readRequestId(headers) ?? '';
  const missing = [H.requestId, H.deadline, H.arn].filter((name) => header(headers, name) === undefined);
  if (missing.length > 0) {
    throw new RuntimeError('Runtime.PlatformError', `Missing required headers: ${missing.join(', ')}`);
  }
  const deadlineText = header(headers, H.deadline) ?? '';
  const deadlineMs = Number(deadlineText);
  if (!/^\d+$/.test(deadlineText) || !Number.isSafeInteger(deadlineMs)) {
    throw new RuntimeError('Runtime.PlatformError', `Invalid ${H.deadline} header: '${deadlineText}'`);
  }
  return {
    requestId,
    deadlineMs,
    invokedFunctionArn: header(headers, H.arn) ?? '',
    xrayTraceId: header(headers, H.traceId),
    traceparent: header(headers, H.traceparent),
    tracestate: header(headers, H.tracestate),
    clientContext: parseJsonHeader(headers, H.clientContext),
    identity: parseJsonHeader(headers, H.identity) as CognitoIdentity | undefined,
  };
}

function parseJsonHeader(headers: IncomingHttpHeaders, name: string): unknown {
  const value = header(headers, name);
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new RuntimeError('Runtime.PlatformError', `Cannot parse ${name} header as JSON`, err);
  }
}

/** Assembles the context for one invocation; `legacy` routes done/succeed/fail to that invocation. */
export function createContext(meta: InvocationMeta, fn: FunctionInfo, legacy: LegacyCompletion): LambdaContext {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fn.functionName,
    functionVersion: fn.functionVersion,
    memoryLimitInMB: fn.memoryLimitInMB,
    logGroupName: fn.logGroupName,
    logStreamName: fn.logStreamName,
    awsRequestId: meta.requestId,
    invokedFunctionArn: meta.invokedFunctionArn,
    identity: meta.identity,
    clientContext: meta.clientContext,
    traceparent: meta.traceparent,
    tracestate: meta.tracestate,
    getRemainingTimeInMillis: () => meta.deadlineMs - Date.now(),
    done: legacy.done,
    succeed: legacy.succeed,
    fail: legacy.fail,
  };
}

/**
 * Exposes the invocation's trace ids to user code and its SDKs via the environment. A variable is
 * deleted when its header is absent, so one invocation never inherits the previous one's trace.
 */
export function applyTraceEnvironment(headers: IncomingHttpHeaders, env: NodeJS.ProcessEnv): void {
  const pairs: Array<[string, string]> = [
    ['_X_AMZN_TRACE_ID', H.traceId],
    ['TRACEPARENT', H.traceparent],
    ['TRACESTATE', H.tracestate],
    // The execution role's credentials and where to use them: the Stratus SDK reads these per call
    // (StratusClient.fromFunctionEnvironment), as the AWS SDK reads AWS_* credentials in Lambda.
    ['STRATUS_TOKEN', H.sessionToken],
    ['STRATUS_ENDPOINT', H.apiEndpoint],
  ];
  for (const [variable, name] of pairs) {
    const value = header(headers, name);
    // process.env writes go through the C library's environment: skip the ones that change nothing.
    const current = env[variable];
    if (value === undefined) {
      if (current !== undefined) delete env[variable];
    } else if (current !== value) env[variable] = value;
  }
}
