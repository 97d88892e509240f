import type { Alias, FunctionServiceServer } from '../../proto/gen/stratus/v1/functions';
import type { Action } from '../../sdk/core/access';
import { StratusError } from '../../sdk/core/errors';
import { validateFunctionName, type FunctionRecord } from '../../sdk/core/function-config';
import type { AliasRecord } from '../../sdk/core/function-versions';
import { tenantOf, type Principal } from '../../sdk/core/identity';
import { functionRecordToPb } from '../../sdk/core/wire/function-codec';
import { unary, type HandlerContext } from '../grpc-handler';
import type { FunctionRegistry } from './function-registry';
import type { VersionStore } from './version-store';

function aliasToPb(a: AliasRecord): Alias {
  return { functionName: a.functionName, name: a.name, functionVersion: a.functionVersion, description: a.description, routingVersion: a.routing?.version ?? '', routingWeight: a.routing?.weight ?? 0, revisionId: a.revisionId, lastModifiedMs: a.lastModifiedMs };
}

/** FunctionService's versions and aliases: publish, list and delete versions; create, update, read, list and delete aliases. */
export function createVersionHandlers(
  ctx: HandlerContext,
  deps: { registry: Pick<FunctionRegistry, 'get'>; versions: VersionStore },
): Pick<FunctionServiceServer, 'publishVersion' | 'listVersions' | 'deleteVersion' | 'createAlias' | 'updateAlias' | 'getAlias' | 'listAliases' | 'deleteAlias'> {
  const { versions } = deps;
  /** The function's $LATEST, once the caller may do `action` on it: versions and aliases are the function's. */
  const authorized = async (caller: Principal, action: Action, raw: string): Promise<FunctionRecord> => {
    const name = validateFunctionName(raw);
    const record = await deps.registry.get(name);
    if (!record) throw new StratusError('FunctionNotFound', `function '${name}' does not exist: check the name with stratus ls`);
    await ctx.access.authorize(caller, action, { kind: 'function', name, tenant: tenantOf(record) });
    return record;
  };
  return {
    publishVersion: unary(ctx, 'stratus.FunctionService/PublishVersion', async (req, span, caller) => {
      const latest = await authorized(caller, 'function:write', req.name);
      const published = await versions.publish(latest.config.name, { description: req.description, codeSha256: req.codeSha256 });
      span.setAttribute('faas.version', published.version);
      return functionRecordToPb({ ...published, tenant: tenantOf(latest) });
    }),
    listVersions: unary(ctx, 'stratus.FunctionService/ListVersions', async (req, _span, caller) => {
      const latest = await authorized(caller, 'function:read', req.name);
      return { versions: (await versions.list(latest.config.name)).map((v) => functionRecordToPb({ ...v, tenant: tenantOf(latest) })) };
    }),
    deleteVersion: unary(ctx, 'stratus.FunctionService/DeleteVersion', async (req, _span, caller) => {
      const latest = await authorized(caller, 'function:write', req.name);
      if (!/^[1-9]\d*$/.test(req.version)) throw new StratusError('InvalidRequest', `version '${req.version}': give a published version number ($LATEST goes with the function: stratus rm)`);
      await versions.delete(latest.config.name, req.version);
      return {};
    }),
    createAlias: unary(ctx, 'stratus.FunctionService/CreateAlias', async (req, _span, caller) => {
      const latest = await authorized(caller, 'function:write', req.functionName);
      const routing = req.routingVersion ? { version: req.routingVersion, weight: req.routingWeight } : undefined;
      return aliasToPb(await versions.createAlias(latest.config.name, req.name, { functionVersion: req.functionVersion, description: req.description, routing }));
    }),
    updateAlias: unary(ctx, 'stratus.FunctionService/UpdateAlias', async (req, _span, caller) => {
      const latest = await authorized(caller, 'function:write', req.functionName);
      const routing = req.clearRouting ? null : req.routingVersion ? { version: req.routingVersion, weight: req.routingWeight } : undefined;
      return aliasToPb(await versions.updateAlias(latest.config.name, req.name, { functionVersion: req.functionVersion || undefined, description: req.description, routing }));
    }),
    getAlias: unary(ctx, 'stratus.FunctionService/GetAlias', async (req, _span, caller) => {
      const latest = await authorized(caller, 'function:read', req.functionName);
      const alias = await versions.getAlias(latest.config.name, req.name);
      if (!alias) throw new StratusError('ResourceNotFound', `function '${latest.config.name}' has no alias '${req.name}': stratus aliases ls ${latest.config.name} lists them`);
      return aliasToPb(alias);
    }),
    listAliases: unary(ctx, 'stratus.FunctionService/ListAliases', async (req, _span, caller) => {
      const latest = await authorized(caller, 'function:read', req.functionName);
      return { aliases: (await versions.aliases(latest.config.name)).map(aliasToPb) };
    }),
    deleteAlias: unary(ctx, 'stratus.FunctionService/DeleteAlias', async (req, _span, caller) => {
      const latest = await authorized(caller, 'function:write', req.functionName);
      await versions.deleteAlias(latest.config.name, req.name);
      return {};
    }),
  };
}
