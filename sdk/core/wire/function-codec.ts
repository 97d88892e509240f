import type { CodeRef as CodeRefPb, FunctionConfig as FunctionConfigPb, FunctionInfo } from '../../../proto/gen/stratus/v1/common';
import type { BundleFormat, CodeRef, FunctionConfig, FunctionRecord } from '../function-config';
import { resolveRuntime } from '../runtimes';

/** Domain FunctionConfig → wire. */
export function functionConfigToPb(c: Partial<FunctionConfig>): FunctionConfigPb {
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
  };
}

/** Wire FunctionConfig → a partial domain config; zero values mean "not set" and get defaults later. */
export function functionConfigFromPb(pb: FunctionConfigPb | undefined): Partial<FunctionConfig> & { name: string; runtime: string } {
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
  };
  return {
    config,
    runtime: resolveRuntime(pb.resolvedRuntime || config.runtime),
    code: codeRefFromPb(pb.code),
    version: pb.version,
    revisionId: pb.revisionId,
    lastModifiedMs: pb.lastModifiedMs,
  };
}
