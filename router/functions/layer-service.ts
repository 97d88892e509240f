import type { LayerServiceServer, LayerVersion } from '../../proto/gen/stratus/v1/layers';
import type { CodeStore } from '../../sdk/platform/code-store';
import { resolveRuntime } from '../../sdk/core/runtimes';
import { codeRefToPb } from '../../sdk/core/wire/function-codec';
import { unary, type HandlerContext } from '../grpc-handler';
import { validateLayerName, type LayerRegistry, type LayerVersionRecord } from './layer-registry';
import type { Action, ResourceRef } from '../../sdk/core/access';
import type { Principal } from '../../sdk/core/identity';

function toPb(l: LayerVersionRecord): LayerVersion {
  return { name: l.name, version: l.version, code: codeRefToPb(l.code), compatibleRuntimes: l.compatibleRuntimes, description: l.description, createdMs: l.createdMs };
}

/** LayerService: publish, list, get and delete layer versions, each layer owned by the tenant that first published it. */
export function createLayerService(ctx: HandlerContext, layers: LayerRegistry, codeStore: CodeStore): LayerServiceServer {
  const { access } = ctx;
  const ref = (name: string, tenant: string): ResourceRef => ({ kind: 'layer', name, tenant });
  const authorized = async (caller: Principal, action: Action, name: string): Promise<void> => {
    await access.authorize(caller, action, ref(validateLayerName(name), await access.ownerOf('layer', name)));
  };
  return {
    publishLayerVersion: unary(ctx, 'stratus.LayerService/PublishLayerVersion', async (req, _span, caller) => {
      const name = validateLayerName(req.name);
      const runtimes = [...new Set(req.compatibleRuntimes.map(resolveRuntime))];
      const existing = (await layers.versions(name)).length > 0;
      const owner = existing ? await access.ownerOf('layer', name) : caller.tenant;
      await access.authorize(caller, 'layer:write', ref(name, owner));
      if (!existing) await access.claim('layer', name, owner);
      return toPb(await layers.publish(name, await codeStore.describe(req.codeSha256), runtimes, req.description));
    }),
    listLayers: unary(ctx, 'stratus.LayerService/ListLayers', async (_req, _span, caller) => {
      await access.authorize(caller, 'layer:read', ref('*', caller.tenant));
      return { layers: (await layers.latestOfEach()).filter((l) => access.checkNow(caller, 'layer:read', ref(l.name, access.ownerNow('layer', l.name))).allowed).map(toPb) };
    }),
    listLayerVersions: unary(ctx, 'stratus.LayerService/ListLayerVersions', async (req, _span, caller) => {
      await authorized(caller, 'layer:read', req.name);
      return { layers: (await layers.versions(req.name)).map(toPb) };
    }),
    getLayerVersion: unary(ctx, 'stratus.LayerService/GetLayerVersion', async (req, _span, caller) => {
      await authorized(caller, 'layer:read', req.name);
      return toPb(await layers.get(req.name, req.version));
    }),
    deleteLayerVersion: unary(ctx, 'stratus.LayerService/DeleteLayerVersion', async (req, _span, caller) => {
      await authorized(caller, 'layer:write', req.name);
      await layers.delete(req.name, req.version);
      return {};
    }),
  };
}
