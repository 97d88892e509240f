import type { Table, TableServiceServer } from '../../proto/gen/stratus/v1/tables';
import { unary, type HandlerContext } from '../grpc-handler';
import type { TableInfo, TableStore } from './table-store';

function toPb(t: TableInfo): Table {
  return { name: t.name, history: t.history, stream: t.stream, items: t.items, bytes: t.bytes, description: t.description };
}

/** TableService: create, list and delete tables; put, get and delete items. */
export function createTableService(ctx: HandlerContext, tables: TableStore): TableServiceServer {
  return {
    createTable: unary(ctx, 'stratus.TableService/CreateTable', async (req) => toPb(await tables.create(req.name, req.history, req.description))),
    listTables: unary(ctx, 'stratus.TableService/ListTables', async () => ({ tables: (await tables.list()).map(toPb) })),
    deleteTable: unary(ctx, 'stratus.TableService/DeleteTable', async (req) => {
      await tables.delete(req.name);
      return {};
    }),
    putItem: unary(ctx, 'stratus.TableService/PutItem', async (req) => ({ revision: await tables.put(req.table, req.key, req.value, req.expectedRevision) })),
    getItem: unary(ctx, 'stratus.TableService/GetItem', async (req) => {
      const item = await tables.get(req.table, req.key);
      return { table: item.table, key: item.key, value: Buffer.from(item.value), revision: item.revision, timeMs: item.timeMs };
    }),
    deleteItem: unary(ctx, 'stratus.TableService/DeleteItem', async (req) => {
      await tables.deleteItem(req.table, req.key, req.purge);
      return {};
    }),
  };
}
