import { tenantOf } from '../identity';
import type { LoggingConfig as LoggingConfigPb, AsyncConfig as AsyncConfigPb, CodeRef as CodeRefPb, Destination as DestinationPb, FunctionConfig as FunctionConfigPb, FunctionInfo } from '../../../proto/gen/stratus/v1/common';
import { DEFAULT_ASYNC_CONFIG, type AsyncConfig, type BundleFormat, type CodeRef, type Destination, type FunctionConfig, type FunctionConfigInput, type FunctionConfigPatch, type FunctionRecord } from '../function-config';
import { DEFAULT_LOGGING, overlayLogging, type LogFormat, type LoggingConfig, type LogLevel } from '../function-logs';
import { resolveRuntime } from '../runtimes';

/** Domain LoggingConfig → wire. */
export function loggingConfigToPb(l: Partial<LoggingConfig> | undefined): LoggingConfigPb | undefined {
  if (!l) return undefined;
  return { format: l.format ?? '', applicationLogLevel: l.applicationLogLevel ?? '', systemLogLevel: l.systemLogLevel ?? '', retentionDays: l.retentionDays ?? 0, maxMb: l.maxMb ?? 0 };
}

/** Wire LoggingConfig → partial domain config (empty values mean "not set"). */
export function loggingConfigFromPb(pb: LoggingConfigPb | undefined): Partial<LoggingConfig> | undefined {
  if (!pb) return undefined;
  return {
    format: (pb.format || undefined) as LogFormat | undefined,
    applicationLogLevel: (pb.applicationLogLevel || undefined) as LogLevel | undefined,
    systemLogLevel: (pb.systemLogLevel || undefined) as LoggingConfig['systemLogLevel'],
    retentionDays: pb.retentionDays,
    maxMb: pb.maxMb,
  };
}

function destinationToPb(d: Destination | undefined): DestinationPb | undefined {
  return d ? { kind: d.kind, target: d.target } : undefined;
}

function destinationFromPb(d: DestinationPb | undefined): Destination | undefined {
  return d && (d.kind || d.target) ? { kind: d.kind as Destination['kind'], target: d.target } : undefined;
}

/** Domain AsyncConfig → wire. */
export function asyncConfigToPb(a: Partial<AsyncConfig> | undefined): AsyncConfigPb | undefined {
  if (!a) return undefined;
  return { maxRetryAttempts: a.maxRetryAttempts, maxEventAgeSeconds: a.maxEventAgeSeconds ?? 0, onSuccess: destinationToPb(a.onSuccess), onFailure: destinationToPb(a.onFailure) };
}

/** Wire AsyncConfig → partial domain config (zero values mean "not set"). */
export function asyncConfigFromPb(pb: AsyncConfigPb | undefined): Partial<AsyncConfig> | undefined {
  if (!pb) return undefined;
  return { maxRetryAttempts: pb.maxRetryAttempts, maxEventAgeSeconds: pb.maxEventAgeSeconds || undefined, onSuccess: destinationFromPb(pb.onSuccess), onFailure: destinationFromPb(pb.onFailure) };
}

/** Domain FunctionConfig → wire. */
export function functionConfigToPb(c: FunctionConfigPatch): FunctionConfigPb {
  return {
    name: c.name ?? '',
    runtime: c.runtime ?? '',
    handler: c.handler ?? '',
    memoryMb: c.memoryMb ?? 0,
    timeoutSeconds: c.timeoutSeconds ?? 0,
    environment: { ...(c.environment ?? {}) },
    description: c.description ?? '',
    layers: [...(c.layers ?? [])],
    ephemeralStorageMb: c.ephemeralStorageMb ?? 0,
    reservedConcurrency: c.reservedConcurrency,
    role: c.role ?? '',
    tags: { ...(c.tags ?? {}) },
    async: asyncConfigToPb(c.async),
    networkDisabled: c.networkDisabled ?? false,
    recursiveLoop: c.recursiveLoop ?? '',
    logging: loggingConfigToPb(c.logging),
  };
}

/** Wire FunctionConfig → a partial domain config; zero values mean "not set" and get defaults later. */
export function functionConfigFromPb(pb: FunctionConfigPb | undefined): FunctionConfigInput {
  return {
    name: pb?.name ?? '',
    runtime: pb?.runtime ?? '',
    handler: pb?.handler || undefined,
    memoryMb: pb?.memoryMb || undefined,
    timeoutSeconds: pb?.timeoutSeconds || undefined,
    environment: { ...(pb?.environment ?? {}) },
    description: pb?.description ?? '',
    layers: [...(pb?.layers ?? [])],
    ephemeralStorageMb: pb?.ephemeralStorageMb || undefined,
    reservedConcurrency: pb?.reservedConcurrency,
    role: pb?.role ?? '',
    tags: { ...(pb?.tags ?? {}) },
    async: asyncConfigFromPb(pb?.async),
    networkDisabled: pb?.networkDisabled || undefined,
    recursiveLoop: (pb?.recursiveLoop || undefined) as FunctionConfigInput['recursiveLoop'],
    logging: loggingConfigFromPb(pb?.logging),
  };
}

/** Domain CodeRef → wire. */
export function codeRefToPb(code: CodeRef): CodeRefPb {
  return { sha256: code.sha256, size: code.size, unpackedSize: code.unpackedSize, format: code.format };
}

/** Wire CodeRef → domain. */
export function codeRefFromPb(pb: CodeRefPb | undefined): CodeRef {
  const format: BundleFormat = pb?.format === 'tar.gz' ? 'tar.gz' : 'zip';
  return { sha256: pb?.sha256 ?? '', size: pb?.size ?? 0, unpackedSize: pb?.unpackedSize ?? 0, format };
}

/** Domain FunctionRecord → wire FunctionInfo. */
export function functionRecordToPb(r: FunctionRecord): FunctionInfo {
  return {
    config: functionConfigToPb(r.config),
    code: codeRefToPb(r.code),
    version: r.version,
    revisionId: r.revisionId,
    lastModifiedMs: r.lastModifiedMs,
    resolvedRuntime: r.runtime,
    resolvedLayers: r.layers.map((l) => ({ ref: l.ref, code: codeRefToPb(l.code) })),
    tenant: tenantOf(r),
  };
}

/** Wire FunctionInfo → domain FunctionRecord. The sender validated it; this only maps fields. */
export function functionRecordFromPb(pb: FunctionInfo): FunctionRecord {
  const c = pb.config;
  const config: FunctionConfig = {
    name: c?.name ?? '',
    runtime: c?.runtime ?? '',
    handler: c?.handler ?? '',
    memoryMb: c?.memoryMb ?? 0,
    timeoutSeconds: c?.timeoutSeconds ?? 0,
    environment: { ...(c?.environment ?? {}) },
    description: c?.description ?? '',
    layers: [...(c?.layers ?? [])],
    ephemeralStorageMb: c?.ephemeralStorageMb ?? 0,
    reservedConcurrency: c?.reservedConcurrency,
    role: c?.role ?? '',
    tags: { ...(c?.tags ?? {}) },
    async: { ...DEFAULT_ASYNC_CONFIG, ...(asyncConfigFromPb(c?.async) ?? {}) },
    networkDisabled: c?.networkDisabled ?? false,
    recursiveLoop: c?.recursiveLoop === 'Allow' ? 'Allow' : 'Terminate',
    logging: overlayLogging(DEFAULT_LOGGING, loggingConfigFromPb(c?.logging)),
  };
  return {
    tenant: pb.tenant || undefined,
    config,
    runtime: resolveRuntime(pb.resolvedRuntime || config.runtime),
    code: codeRefFromPb(pb.code),
    version: pb.version,
    revisionId: pb.revisionId,
    lastModifiedMs: pb.lastModifiedMs,
    layers: pb.resolvedLayers.map((l) => ({ ref: l.ref, code: codeRefFromPb(l.code) })),
  };
}
