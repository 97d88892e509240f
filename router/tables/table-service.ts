import type { Table, TableServiceServer } from '../../proto/gen/stratus/v1/tables';
import { unary, type HandlerContext } from '../grpc-handler';
import type { Action } from '../../sdk/core/access';
import type { Principal } from '../../sdk/core/identity';
import type { TableInfo, TableStore } from './table-store';

function toPb(t: TableInfo): Table {
  return { name: t.name, history: t.history, stream: t.stream, items: t.items, bytes: t.bytes, description: t.description };
}

/** TableService: create, list and delete tables; put, get and delete items. A table belongs to the tenant that created it. */
export function createTableService(ctx: HandlerContext, tables: TableStore): TableServiceServer {
  const { access } = ctx;
  const authorized = async (caller: Principal, action: Action, name: string): Promise<void> => {
    await access.authorize(caller, action, { kind: 'table', name, tenant: await access.ownerOf('table', name) });
  };
  return {
    createTable: unary(ctx, 'stratus.TableService/CreateTable', async (req, _span, caller) => {
      await access.authorize(caller, 'table:write', { kind: 'table', name: req.name, tenant: caller.tenant });
      await access.claim('table', req.name, caller.tenant);
      try {
        return toPb(await tables.create(req.name, req.history, req.description));
      } catch (err) {
        // The claim of a table that was never made must not keep the name.
        if (!(await tables.list()).some((t) => t.name === req.name)) await access.release('table', req.name).catch(() => undefined);
        throw err;
      }
    }),
    listTables: unary(ctx, 'stratus.TableService/ListTables', async (_req, _span, caller) => {
      await access.authorize(caller, 'table:read', { kind: 'table', name: '*', tenant: caller.tenant });
      return { tables: (await tables.list()).filter((t) => access.checkNow(caller, 'table:read', { kind: 'table', name: t.name, tenant: access.ownerNow('table', t.name) }).allowed).map(toPb) };
    }),
    deleteTable: unary(ctx, 'stratus.TableService/DeleteTable', async (req, _span, caller) => {
      await authorized(caller, 'table:write', req.name);
      await tables.delete(req.name);
      await access.release('table', req.name);
      return {};
    }),
    putItem: unary(ctx, 'stratus.TableService/PutItem', async (req, _span, caller) => {
      await authorized(caller, 'table:write', req.table);
      return { revision: await tables.put(req.table, req.key, req.value, req.expectedRevision) };
    }),
    getItem: unary(ctx, 'stratus.TableService/GetItem', async (req, _span, caller) => {
      await authorized(caller, 'table:read', req.table);
      const item = await tables.get(req.table, req.key);
      return { table: item.table, key: item.key, value: Buffer.from(item.value), revision: item.revision, timeMs: item.timeMs };
    }),
    deleteItem: unary(ctx, 'stratus.TableService/DeleteItem', async (req, _span, caller) => {
      await authorized(caller, 'table:write', req.table);
      await tables.deleteItem(req.table, req.key, req.purge);
      return {};
    }),
  };
}
