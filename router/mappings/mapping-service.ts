import type { MappingServiceServer } from '../../proto/gen/stratus/v1/mappings';
import { StratusError } from '../../sdk/core/errors';
import { mappingSettingsFromPb, mappingSourceFromPb, mappingToPb, startingPositionFromPb } from '../../sdk/core/wire/mapping-codec';
import { unary, type HandlerContext } from '../grpc-handler';
import type { Action } from '../../sdk/core/access';
import { validateFunctionName } from '../../sdk/core/function-config';
import { tenantOf, type Principal } from '../../sdk/core/identity';
import { ownsSource, sourceTenant } from '../auth/source-ownership';
import type { FunctionCache } from '../functions/function-cache';
import type { MappingManager } from './mapping-manager';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function mappingId(id: string): string {
  if (!UUID.test(id)) throw new StratusError('InvalidRequest', `'${id}' is not a mapping id: use the UUID stratus mappings ls shows`);
  return id;
}

/** MappingService: create, list, get, update and delete event source mappings. */
export function createMappingService(ctx: HandlerContext, manager: MappingManager, cache: FunctionCache): MappingServiceServer {
  const { access } = ctx;
  /** The mapping, once `caller`'s tenant owns it (administrators own everything). */
  const owned = async (caller: Principal, id: string, action: Action) => {
    const tenant = await access.ownerOf('mapping', id);
    await access.authorize(caller, action, { kind: 'function', name: '*', tenant: caller.tenant });
    if (!ownsSource(caller, tenant)) throw new StratusError('AccessDenied', `mapping ${id} belongs to another tenant: only its tenant may see or change it`);
    return tenant;
  };
  return {
    createMapping: unary(ctx, 'stratus.MappingService/CreateMapping', async (req, _span, caller) => {
      const source = mappingSourceFromPb(req.source);
      const target = await cache.get(validateFunctionName(req.functionName));
      if (!target) throw new StratusError('FunctionNotFound', `function '${req.functionName}' does not exist: deploy it first (stratus deploy ${req.functionName} <folder>), then map it`);
      const tenant = sourceTenant(caller, target);
      await access.authorize(caller, 'function:write', { kind: 'function', name: req.functionName, tenant: caller.tenant });
      // Reading a table or bucket is its owner's to allow; JetStream streams belong to no tenant.
      if (source.kind === 'table' || source.kind === 'bucket') {
        await access.authorize(caller, source.kind === 'table' ? 'table:read' : 'bucket:read', { kind: source.kind, name: source.name, tenant: await access.ownerOf(source.kind, source.name) });
      }
      await access.authorize({ kind: 'source', source: 'mapping', name: `${source.kind}:${source.name}`, tenant, depth: 0 }, 'function:invoke', { kind: 'function', name: target.config.name, tenant: tenantOf(target) });
      const info = await manager.create({
        functionName: req.functionName,
        source,
        startingPosition: startingPositionFromPb(req.startingPosition),
        startingPositionTimestampMs: req.startingPositionTimestampMs,
        settings: mappingSettingsFromPb(req.settings),
      });
      await access.claim('mapping', info.id, tenant);
      return mappingToPb(info);
    }),
    listMappings: unary(ctx, 'stratus.MappingService/ListMappings', async (req, _span, caller) => {
      await access.authorize(caller, 'function:read', { kind: 'function', name: req.functionName || '*', tenant: caller.tenant });
      return { mappings: (await manager.list(req.functionName)).filter((m) => ownsSource(caller, access.ownerNow('mapping', m.id))).map(mappingToPb) };
    }),
    getMapping: unary(ctx, 'stratus.MappingService/GetMapping', async (req, _span, caller) => {
      await owned(caller, mappingId(req.id), 'function:read');
      return mappingToPb(await manager.get(req.id));
    }),
    updateMapping: unary(ctx, 'stratus.MappingService/UpdateMapping', async (req, _span, caller) => {
      await owned(caller, mappingId(req.id), 'function:write');
      return mappingToPb(await manager.update(req.id, mappingSettingsFromPb(req.settings)));
    }),
    deleteMapping: unary(ctx, 'stratus.MappingService/DeleteMapping', async (req, _span, caller) => {
      await owned(caller, mappingId(req.id), 'function:write');
      await manager.delete(req.id);
      await access.release('mapping', req.id);
      return {};
    }),
  };
}
