import type { LayerServiceServer, LayerVersion } from '../../proto/gen/stratus/v1/layers';
import type { CodeStore } from '../../sdk/platform/code-store';
import { resolveRuntime } from '../../sdk/core/runtimes';
import { codeRefToPb } from '../../sdk/core/wire/function-codec';
import { unary, type HandlerContext } from '../grpc-handler';
import type { LayerRegistry, LayerVersionRecord } from './layer-registry';

function toPb(l: LayerVersionRecord): LayerVersion {
  return { name: l.name, version: l.version, code: codeRefToPb(l.code), compatibleRuntimes: l.compatibleRuntimes, description: l.description, createdMs: l.createdMs };
}

/** LayerService: publish, list, get and delete layer versions. */
export function createLayerService(ctx: HandlerContext, layers: LayerRegistry, codeStore: CodeStore): LayerServiceServer {
  return {
    publishLayerVersion: unary(ctx, 'stratus.LayerService/PublishLayerVersion', async (req) => {
      const runtimes = [...new Set(req.compatibleRuntimes.map(resolveRuntime))];
      return toPb(await layers.publish(req.name, await codeStore.describe(req.codeSha256), runtimes, req.description));
    }),
    listLayers: unary(ctx, 'stratus.LayerService/ListLayers', async () => ({ layers: (await layers.latestOfEach()).map(toPb) })),
    listLayerVersions: unary(ctx, 'stratus.LayerService/ListLayerVersions', async (req) => ({ layers: (await layers.versions(req.name)).map(toPb) })),
    getLayerVersion: unary(ctx, 'stratus.LayerService/GetLayerVersion', async (req) => toPb(await layers.get(req.name, req.version))),
    deleteLayerVersion: unary(ctx, 'stratus.LayerService/DeleteLayerVersion', async (req) => {
      await layers.delete(req.name, req.version);
      return {};
    }),
  };
}
