import { StratusError } from './errors';
import { normalizeLoggingConfig, type LoggingConfig } from './function-logs';
import { LIMITS } from './limits';
import { resolveRuntime, runtimeNeedsHandler, type RuntimeName } from './runtimes';

/** What a user sets on a function, with defaults applied. */
export interface FunctionConfig {
  name: string;
  /** As the user wrote it (a Lambda alias stays an alias); see FunctionRecord.runtime. */
  runtime: string;
  handler: string;
  memoryMb: number;
  timeoutSeconds: number;
  environment: Record<string, string>;
  description: string;
  layers: string[];
  ephemeralStorageMb: number;
  /** Undefined: unreserved. 0 stops the function. */
  reservedConcurrency: number | undefined;
  role: string;
  tags: Record<string, string>;
  async: AsyncConfig;
  /** No network inside the sandbox. Default false (functions call APIs). */
  networkDisabled: boolean;
  /** Lambda's recursive loop detection: 'Terminate' (default) stops chains at the recursion limit; 'Allow' lets them run. */
  recursiveLoop: RecursiveLoop;
  /** How the function's lines are written and kept (Lambda's LoggingConfig). */
  logging: LoggingConfig;
}

/** What happens when a chain of invocations reaches the recursion limit. */
export type RecursiveLoop = 'Terminate' | 'Allow';

/** Where an asynchronous invocation's record goes. */
export interface Destination {
  kind: 'subject' | 'function';
  target: string;
}

/** How asynchronous invocations are retried, how old they may get, and where outcomes go (Lambda's event invoke config). */
export interface AsyncConfig {
  /** Retries after a function error, 0-2 (default 2). */
  maxRetryAttempts: number;
  /** 60-21600 (default 21600, 6 h). */
  maxEventAgeSeconds: number;
  onSuccess: Destination | undefined;
  /** Unset: the function's dead-letter subject. */
  onFailure: Destination | undefined;
}

/** Some fields of a configuration, as an update gives them. */
export type FunctionConfigPatch = Partial<Omit<FunctionConfig, 'async' | 'logging'>> & { async?: Partial<AsyncConfig>; logging?: Partial<LoggingConfig> };

/** A configuration as a caller gives it: anything but name and runtime may be left out. */
export type FunctionConfigInput = FunctionConfigPatch & { name: string; runtime: string };

/** Async defaults, as Lambda's. */
export const DEFAULT_ASYNC_CONFIG: AsyncConfig = { maxRetryAttempts: 2, maxEventAgeSeconds: 21_600, onSuccess: undefined, onFailure: undefined };

/** A function's code bundle in the Object Store. */
export interface CodeRef {
  sha256: string;
  size: number;
  unpackedSize: number;
  format: BundleFormat;
}

/** Archive formats Stratus accepts for code and layers. */
export type BundleFormat = 'zip' | 'tar.gz';

/** A function as the registry stores it. */
export interface FunctionRecord {
  /** The tenant (account) that owns the function; records written before tenants existed belong to DEFAULT_TENANT. */
  tenant?: string;
  config: FunctionConfig;
  runtime: RuntimeName;
  code: CodeRef;
  /** "$LATEST" or a published version number. */
  version: string;
  /** Changes on every update: instances of an older revision are never reused. */
  revisionId: string;
  lastModifiedMs: number;
  /** config.layers resolved to their code, in order (layer versions are immutable). */
  layers: ResolvedLayer[];
}

/** A layer version a function uses. */
export interface ResolvedLayer {
  /** "name:version". */
  ref: string;
  code: CodeRef;
}

const LAYER_REF_PATTERN = /^([A-Za-z0-9_-]{1,64}):(\d{1,6})$/;

/** Parses "name:version"; throws InvalidRequest naming the form. */
export function parseLayerRef(ref: string): { name: string; version: number } {
  const m = LAYER_REF_PATTERN.exec(ref.trim());
  if (!m || Number(m[2]) < 1) throw new StratusError('InvalidRequest', `layer '${ref}': write it as name:version, e.g. shared-libs:3 (stratus layers ls shows them)`);
  return { name: m[1] as string, version: Number(m[2]) };
}

/** The version name of the mutable draft. */
export const LATEST = '$LATEST';

const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const HANDLER_PATTERN = /^[^\s]{1,128}$/;
const ENV_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;

/** Variables the platform sets; a function's configuration may not override them (as in Lambda). */
const RESERVED_ENV = new Set([
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
  'TZ',
]);

/** Throws InvalidRequest unless `name` is a valid function name. */
export function validateFunctionName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new StratusError(
      'InvalidRequest',
      `invalid function name '${name}': use 1-64 letters, digits, '-' or '_'`,
    );
  }
  return name;
}

function checkRange(what: string, value: number, min: number, max: number, unit: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new StratusError('InvalidRequest', `invalid ${what} ${value}: use a whole number from ${min} to ${max} ${unit}`);
  }
  return value;
}

/**
 * Range-checks the sizes a caller set explicitly, before they are sent. The wire reads 0 as "not
 * set", so without this an explicit 0 (a zero timeout, say) would silently become the default.
 */
export function validateGivenSizes(settings: Partial<Pick<FunctionConfig, 'memoryMb' | 'timeoutSeconds' | 'ephemeralStorageMb'>>): void {
  const { memoryMb, timeoutSeconds, ephemeralStorageMb } = settings;
  if (memoryMb !== undefined) checkRange('memory', memoryMb, LIMITS.minMemoryMb, LIMITS.maxMemoryMb, 'MB');
  if (timeoutSeconds !== undefined) checkRange('timeout', timeoutSeconds, LIMITS.minTimeoutSeconds, LIMITS.maxTimeoutSeconds, 'seconds');
  if (ephemeralStorageMb !== undefined) {
    checkRange('ephemeral storage', ephemeralStorageMb, LIMITS.minEphemeralStorageMb, LIMITS.maxEphemeralStorageMb, 'MB');
  }
}

function validateEnvironment(env: Record<string, string>): Record<string, string> {
  let bytes = 0;
  for (const [key, value] of Object.entries(env)) {
    if (!ENV_KEY_PATTERN.test(key)) {
      throw new StratusError('InvalidRequest', `invalid environment variable name '${key}': start with a letter, then letters, digits or '_'`);
    }
    if (RESERVED_ENV.has(key)) {
      throw new StratusError('InvalidRequest', `environment variable '${key}' is reserved: the platform sets it; choose another name`);
    }
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (bytes > LIMITS.maxEnvironmentBytes) {
    throw new StratusError(
      'InvalidRequest',
      `environment variables take ${bytes} bytes, over the ${LIMITS.maxEnvironmentBytes}-byte limit: move large values into the code bundle`,
    );
  }
  return env;
}

function validateHandler(runtime: RuntimeName, handler: string): string {
  if (!runtimeNeedsHandler(runtime)) return handler;
  const lastSegment = handler.split('/').pop() ?? '';
  if (!HANDLER_PATTERN.test(handler) || !/^[^.]+\.[^.]/.test(lastSegment)) {
    const example = runtime === 'python' ? 'app.handler (function handler in app.py)' : 'index.handler (export handler from index.js)';
    throw new StratusError('InvalidRequest', `invalid handler '${handler}': write it as file.function, e.g. ${example}`);
  }
  return handler;
}

const SUBJECT_PATTERN = /^[^\s.*>]+(\.[^\s.*>]+)*$/;

function validateDestination(which: string, d: Destination | undefined): Destination | undefined {
  if (!d || (!d.kind && !d.target)) return undefined;
  if (d.kind === 'function') {
    // `name` or `name:qualifier` (a version or an alias).
    const [name = '', qualifier, ...rest] = d.target.split(':');
    if (!NAME_PATTERN.test(name) || rest.length > 0 || (qualifier !== undefined && !/^(\$LATEST|[1-9]\d{0,8}|(?!\d+$)[A-Za-z0-9_-]{1,128})$/.test(qualifier))) {
      throw new StratusError('InvalidRequest', `${which} destination: '${d.target}' is not a function name (or name:version, name:alias)`);
    }
    return { kind: 'function', target: d.target };
  }
  if (d.kind === 'subject') {
    if (!SUBJECT_PATTERN.test(d.target)) {
      throw new StratusError('InvalidRequest', `${which} destination: '${d.target}' is not a NATS subject (dot-separated tokens, no wildcards)`);
    }
    return { kind: 'subject', target: d.target };
  }
  throw new StratusError('InvalidRequest', `${which} destination kind '${d.kind}': use subject or function`);
}

/** Applies defaults to an async configuration and validates it. */
export function normalizeAsyncConfig(input: Partial<AsyncConfig> | undefined): AsyncConfig {
  return {
    maxRetryAttempts: checkRange('maximum retry attempts', input?.maxRetryAttempts ?? DEFAULT_ASYNC_CONFIG.maxRetryAttempts, 0, 2, 'retries'),
    maxEventAgeSeconds: checkRange('maximum event age', input?.maxEventAgeSeconds || DEFAULT_ASYNC_CONFIG.maxEventAgeSeconds, 60, 21_600, 'seconds'),
    onSuccess: validateDestination('on-success', input?.onSuccess),
    onFailure: validateDestination('on-failure', input?.onFailure),
  };
}

/** Applies defaults to a partial configuration and validates every field; the one place that does. */
export function normalizeFunctionConfig(input: FunctionConfigInput): {
  config: FunctionConfig;
  runtime: RuntimeName;
} {
  const runtime = resolveRuntime(input.runtime);
  const handler = input.handler?.trim() || (runtimeNeedsHandler(runtime) ? '' : 'bootstrap');
  if (runtimeNeedsHandler(runtime) && handler === '') {
    throw new StratusError('InvalidRequest', `a ${runtime} function needs a handler, e.g. --handler index.handler`);
  }
  const description = input.description ?? '';
  if (description.length > LIMITS.maxDescriptionLength) {
    throw new StratusError('InvalidRequest', `description is ${description.length} characters: keep it to at most ${LIMITS.maxDescriptionLength}`);
  }
  const layers = input.layers ?? [];
  if (layers.length > LIMITS.maxLayers) {
    throw new StratusError('InvalidRequest', `${layers.length} layers given: a function may use at most ${LIMITS.maxLayers}`);
  }
  const reserved = input.reservedConcurrency;
  if (reserved !== undefined) checkRange('reserved concurrency', reserved, 0, 100000, 'instances');
  const config: FunctionConfig = {
    name: validateFunctionName(input.name),
    runtime: input.runtime.trim(),
    handler: validateHandler(runtime, handler),
    memoryMb: checkRange('memory', input.memoryMb || LIMITS.defaultMemoryMb, LIMITS.minMemoryMb, LIMITS.maxMemoryMb, 'MB'),
    timeoutSeconds: checkRange(
      'timeout',
      input.timeoutSeconds || LIMITS.defaultTimeoutSeconds,
      LIMITS.minTimeoutSeconds,
      LIMITS.maxTimeoutSeconds,
      'seconds',
    ),
    environment: validateEnvironment({ ...(input.environment ?? {}) }),
    description,
    layers: [...layers],
    ephemeralStorageMb: checkRange(
      'ephemeral storage',
      input.ephemeralStorageMb || LIMITS.defaultEphemeralStorageMb,
      LIMITS.minEphemeralStorageMb,
      LIMITS.maxEphemeralStorageMb,
      'MB',
    ),
    reservedConcurrency: reserved,
    role: input.role ?? '',
    tags: { ...(input.tags ?? {}) },
    async: normalizeAsyncConfig(input.async),
    networkDisabled: input.networkDisabled ?? false,
    recursiveLoop: validateRecursiveLoop(input.recursiveLoop),
    logging: normalizeLoggingConfig(input.logging),
  };
  return { config, runtime };
}

function validateRecursiveLoop(value: string | undefined): RecursiveLoop {
  if (value === undefined || value === '' || value === 'Terminate') return 'Terminate';
  if (value === 'Allow') return 'Allow';
  throw new StratusError('InvalidRequest', `recursive loop '${value}': use Terminate (stop chains at the recursion limit, the default) or Allow`);
}

/** The ARN-shaped identifier handed to functions as invokedFunctionArn. */
export function functionArn(region: string, account: string, name: string, qualifier?: string): string {
  const base = `arn:aws:lambda:${region}:${account}:function:${name}`;
  return qualifier ? `${base}:${qualifier}` : base;
}
