import type { CodeRef, FunctionConfig, FunctionConfigInput, FunctionConfigPatch } from '../../sdk/core/function-config';
import { LATEST, normalizeFunctionConfig, parseLayerRef, validateFunctionName, type FunctionRecord } from '../../sdk/core/function-config';
import type { InvokeTargets } from './invoke-target';
import { overlayLogging } from '../../sdk/core/function-logs';
import type { VersionStore } from './version-store';
import { createVersionHandlers } from './version-service';
import type { CodeStore } from '../../sdk/platform/code-store';
import { StratusError } from '../../sdk/core/errors';
import type { Action, ResourceRef } from '../../sdk/core/access';
import { tenantOf, type Principal } from '../../sdk/core/identity';
import { functionConfigFromPb, functionRecordToPb } from '../../sdk/core/wire/function-codec';
import type { FunctionServiceServer, UploadCodeRequest } from '../../proto/gen/stratus/v1/functions';
import { receiveUpload, type UploadPart } from './code-upload';
import type { FunctionCache } from './function-cache';
import type { FunctionRegistry } from './function-registry';
import type { LayerRegistry } from './layer-registry';
import { clientStream, unary, type HandlerContext } from '../grpc-handler';

/** Proto field names accepted in an update mask, and the domain field each sets. */
const MASK_FIELDS: Readonly<Record<string, keyof FunctionConfig>> = {
  runtime: 'runtime',
  handler: 'handler',
  memory_mb: 'memoryMb',
  timeout_seconds: 'timeoutSeconds',
  environment: 'environment',
  description: 'description',
  layers: 'layers',
  ephemeral_storage_mb: 'ephemeralStorageMb',
  reserved_concurrency: 'reservedConcurrency',
  role: 'role',
  tags: 'tags',
  async: 'async',
  network_disabled: 'networkDisabled',
  recursive_loop: 'recursiveLoop',
  logging: 'logging',
};


/** The fields of `patch` an update applies: those in the mask, or every field given a value. */
export function applyConfigPatch(current: FunctionConfig, patch: FunctionConfigPatch, mask: readonly string[]): FunctionConfigInput {
  const next: Record<string, unknown> = { ...current };
  if (mask.length > 0) {
    for (const field of mask) {
      const key = MASK_FIELDS[field];
      if (!key) throw new StratusError('InvalidRequest', `unknown field '${field}' in update mask: use one of ${Object.keys(MASK_FIELDS).join(', ')}`);
      next[key] = key === 'logging' ? overlayLogging(current.logging, patch.logging) : patch[key];
    }
  } else {
    for (const key of Object.values(MASK_FIELDS)) {
      const value = patch[key];
      const empty = value === undefined || value === '' || (Array.isArray(value) && value.length === 0) || (typeof value === 'object' && value !== null && Object.keys(value).length === 0);
      if (!empty) next[key] = key === 'logging' ? overlayLogging(current.logging, patch.logging) : value;
    }
  }
  return { ...(next as FunctionConfigInput), name: current.name, runtime: String(next.runtime ?? current.runtime) };
}

async function* uploadParts(stream: AsyncIterable<UploadCodeRequest>): AsyncIterable<UploadPart> {
  for await (const msg of stream) {
    const part = msg.part;
    if (part?.$case === 'header') yield { kind: 'header', size: part.value.size, sha256: part.value.sha256 };
    else if (part?.$case === 'chunk') yield { kind: 'chunk', data: part.value };
  }
}

/** Dependencies of the function management API. */
export interface FunctionServiceDeps {
  registry: FunctionRegistry;
  cache: FunctionCache;
  codeStore: CodeStore;
  layers: LayerRegistry;
  /** Removes what a deleted function leaves besides its record (its log stream). */
  onDeleted?: (name: string) => Promise<void>;
  /** Published versions and aliases. */
  versions: VersionStore;
  /** Resolves GetFunction's qualifier (a version or an alias). */
  targets: Pick<InvokeTargets, 'resolve'>;
}

/** FunctionService: upload code, create, update, get, list and delete functions. */
export function createFunctionService(ctx: HandlerContext, deps: FunctionServiceDeps): FunctionServiceServer {
  const { registry, cache, codeStore, layers } = deps;
  const { access } = ctx;
  const codeFor = (sha256: string): Promise<CodeRef> => codeStore.describe(sha256);
  const fnRef = (record: FunctionRecord): ResourceRef => ({ kind: 'function', name: record.config.name, tenant: tenantOf(record) });
  /** The record, once the caller may do `action` on it. */
  const authorized = async (caller: Principal, action: Action, name: string): Promise<FunctionRecord> => {
    const record = await registry.get(name);
    if (!record) throw new StratusError('FunctionNotFound', `function '${name}' does not exist: check the name with stratus ls`);
    await access.authorize(caller, action, fnRef(record));
    return record;
  };
  /** A configuration may only name layers the function's tenant may read and a role of its own tenant. */
  const checkReferences = async (caller: Principal, config: FunctionConfig, tenant: string): Promise<void> => {
    for (const ref of config.layers) {
      const { name } = parseLayerRef(ref);
      await access.authorize(caller, 'layer:read', { kind: 'layer', name, tenant: await access.ownerOf('layer', name) });
    }
    if (config.role && !(await access.role(tenant, config.role))) {
      throw new StratusError('InvalidRequest', `role '${config.role}' does not exist in tenant ${tenant}: create it first (stratus roles put ${config.role} --allow ...) or deploy without --role`);
    }
  };
  return {
    ...createVersionHandlers(ctx, { registry, versions: deps.versions }),
    uploadCode: clientStream(ctx, 'stratus.FunctionService/UploadCode', async (stream, span, caller) => {
      // Code is content-addressed and unreadable through the API: anyone who may create functions may upload.
      await access.authorize(caller, 'function:write', { kind: 'function', name: '*', tenant: caller.tenant });
      const { code, alreadyStored } = await receiveUpload(uploadParts(stream), codeStore);
      span.setAttribute('stratus.code.sha256', code.sha256);
      return { code, alreadyStored };
    }),
    createFunction: unary(ctx, 'stratus.FunctionService/CreateFunction', async (req, _span, caller) => {
      const { config, runtime } = normalizeFunctionConfig(functionConfigFromPb(req.config));
      await access.authorize(caller, 'function:write', { kind: 'function', name: config.name, tenant: caller.tenant });
      await checkReferences(caller, config, caller.tenant);
      const code = await codeFor(req.codeSha256);
      const record = await registry.create(config, runtime, code, await layers.resolve(config, runtime, code), caller.tenant);
      cache.put(record);
      return functionRecordToPb(record);
    }),
    updateFunctionCode: unary(ctx, 'stratus.FunctionService/UpdateFunctionCode', async (req, _span, caller) => {
      await authorized(caller, 'function:write', validateFunctionName(req.name));
      const code = await codeFor(req.codeSha256);
      const record = await registry.update(
        validateFunctionName(req.name),
        async (cur) => {
          await access.authorize(caller, 'function:write', fnRef(cur));
          return { ...cur, code, layers: await layers.resolve(cur.config, cur.runtime, code) };
        },
        req.expectedRevisionId || undefined,
      );
      cache.put(record);
      return functionRecordToPb(record);
    }),
    updateFunctionConfiguration: unary(ctx, 'stratus.FunctionService/UpdateFunctionConfiguration', async (req, _span, caller) => {
      const patch = functionConfigFromPb({ ...(req.config ?? ({} as never)), name: req.name });
      const record = await registry.update(
        validateFunctionName(req.name),
        async (cur) => {
          await access.authorize(caller, 'function:write', fnRef(cur));
          const { config, runtime } = normalizeFunctionConfig(applyConfigPatch(cur.config, patch, req.updateMask));
          await checkReferences(caller, config, tenantOf(cur));
          return { ...cur, config, runtime, layers: await layers.resolve(config, runtime, cur.code) };
        },
        req.expectedRevisionId || undefined,
      );
      cache.put(record);
      return functionRecordToPb(record);
    }),
    getFunction: unary(ctx, 'stratus.FunctionService/GetFunction', async (req, _span, caller) => {
      const latest = await authorized(caller, 'function:read', validateFunctionName(req.name));
      // A version, or the version an alias names first (its routing aside), as Lambda's GetFunction with a qualifier.
      if (!req.qualifier || req.qualifier === LATEST) return functionRecordToPb(latest);
      const alias = /^\d+$/.test(req.qualifier) ? undefined : await deps.versions.getAlias(latest.config.name, req.qualifier);
      const record = await deps.targets.resolve(latest.config.name, alias ? alias.functionVersion : req.qualifier);
      return functionRecordToPb(record);
    }),
    listFunctions: unary(ctx, 'stratus.FunctionService/ListFunctions', async (req, _span, caller) => {
      await access.authorize(caller, 'function:read', { kind: 'function', name: '*', tenant: caller.tenant });
      const max = req.maxItems > 0 ? Math.min(req.maxItems, 1000) : 50;
      // Other tenants' functions are left out, unless their policy lets the caller read them.
      const visible = (r: FunctionRecord): boolean => access.checkNow(caller, 'function:read', fnRef(r)).allowed;
      const functions: FunctionRecord[] = [];
      let marker = req.marker;
      for (;;) {
        const page = await registry.list(marker, max);
        functions.push(...page.records.filter(visible));
        if (functions.length >= max) {
          const out = functions.slice(0, max);
          const more = functions.length > max || page.nextMarker !== '';
          return { functions: out.map(functionRecordToPb), nextMarker: more ? (out.at(-1)?.config.name ?? '') : '' };
        }
        if (!page.nextMarker) return { functions: functions.map(functionRecordToPb), nextMarker: '' };
        marker = page.nextMarker;
      }
    }),
    deleteFunction: unary(ctx, 'stratus.FunctionService/DeleteFunction', async (req, _span, caller) => {
      const name = validateFunctionName(req.name);
      await authorized(caller, 'function:write', name);
      await registry.delete(name);
      cache.forget(name);
      await access.dropPolicy('function', name);
      await deps.versions.dropAll(name);
      await deps.onDeleted?.(name);
      return {};
    }),
  };
}
