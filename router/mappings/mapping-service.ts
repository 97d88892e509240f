import type { MappingServiceServer } from '../../proto/gen/stratus/v1/mappings';
import { StratusError } from '../../sdk/core/errors';
import { mappingSettingsFromPb, mappingSourceFromPb, mappingToPb, startingPositionFromPb } from '../../sdk/core/wire/mapping-codec';
import { unary, type HandlerContext } from '../grpc-handler';
import type { MappingManager } from './mapping-manager';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function mappingId(id: string): string {
  if (!UUID.test(id)) throw new StratusError('InvalidRequest', `'${id}' is not a mapping id: use the UUID stratus mappings ls shows`);
  return id;
}

/** MappingService: create, list, get, update and delete event source mappings. */
export function createMappingService(ctx: HandlerContext, manager: MappingManager): MappingServiceServer {
  return {
    createMapping: unary(ctx, 'stratus.MappingService/CreateMapping', async (req) =>
      mappingToPb(
        await manager.create({
          functionName: req.functionName,
          source: mappingSourceFromPb(req.source),
          startingPosition: startingPositionFromPb(req.startingPosition),
          startingPositionTimestampMs: req.startingPositionTimestampMs,
          settings: mappingSettingsFromPb(req.settings),
        }),
      ),
    ),
    listMappings: unary(ctx, 'stratus.MappingService/ListMappings', async (req) => ({ mappings: (await manager.list(req.functionName)).map(mappingToPb) })),
    getMapping: unary(ctx, 'stratus.MappingService/GetMapping', async (req) => mappingToPb(await manager.get(mappingId(req.id)))),
    updateMapping: unary(ctx, 'stratus.MappingService/UpdateMapping', async (req) => mappingToPb(await manager.update(mappingId(req.id), mappingSettingsFromPb(req.settings)))),
    deleteMapping: unary(ctx, 'stratus.MappingService/DeleteMapping', async (req) => {
      await manager.delete(mappingId(req.id));
      return {};
    }),
  };
}
