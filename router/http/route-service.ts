import type { RouteServiceServer } from '../../proto/gen/stratus/v1/routes';
import { StratusError } from '../../sdk/core/errors';
import { validateFunctionName, type FunctionRecord } from '../../sdk/core/function-config';
import type { ResourceRef } from '../../sdk/core/access';
import { tenantOf, type Principal } from '../../sdk/core/identity';
import { ownsSource, sourceTenant } from '../auth/source-ownership';
import { DEFAULT_FUNCTION_URL_AUTH, describeRoute } from '../../sdk/core/http-route';
import { functionUrlToPb, routeAuthFromPb, routeToPb } from '../../sdk/core/wire/route-codec';
import { unary, type HandlerContext } from '../grpc-handler';
import type { LiveRoutes } from './live-routes';
import type { RouteRegistry } from './route-registry';
import { RouteTable } from './route-table';

/** What the route API needs. */
export interface RouteServiceDeps {
  registry: RouteRegistry;
  /** This router's live table: writes are applied to it at once, so the next request here sees them. */
  live: LiveRoutes;
  /** Whether a function exists (routes and URLs may only name existing functions). */
  functions: { get(name: string): Promise<FunctionRecord | undefined> };
  /** Checks a route's qualifier names a version or alias that exists. */
  targets: { resolve(name: string, qualifier: string): Promise<FunctionRecord> };
  /** `http://host:port` of this router's HTTP port, once known, for full function URLs. */
  httpBaseUrl: () => string | undefined;
}

async function requireFunction(deps: RouteServiceDeps, name: string): Promise<FunctionRecord> {
  const record = await deps.functions.get(name);
  if (!record) throw new StratusError('FunctionNotFound', `function '${name}' does not exist: deploy it first (stratus deploy ${name} <folder>) or check the name with stratus ls`);
  return record;
}

/**
 * RouteService: HTTP routes and function URLs, stored in KV and served by every router. A route
 * belongs to the tenant that created it and invokes on its behalf (its path is the cluster's, as
 * a host's paths are); a function URL is part of its function.
 */
export function createRouteService(ctx: HandlerContext, deps: RouteServiceDeps): RouteServiceServer {
  const { access } = ctx;
  const fnRef = (record: FunctionRecord): ResourceRef => ({ kind: 'function', name: record.config.name, tenant: tenantOf(record) });
  const visibleRoute = (caller: Principal, id: string): boolean => ownsSource(caller, access.ownerNow('route', id));
  return {
    createRoute: unary(ctx, 'stratus.RouteService/CreateRoute', async (req, _span, caller) => {
      const route = describeRoute({ method: req.method, path: req.path, functionName: req.functionName, auth: routeAuthFromPb(req.auth) });
      const target = await requireFunction(deps, route.functionName);
      // The version or alias must exist now (it is resolved again for every request).
      if (req.qualifier) await deps.targets.resolve(route.functionName, req.qualifier);
      const tenant = sourceTenant(caller, target);
      await access.authorize(caller, 'function:write', { kind: 'function', name: route.functionName, tenant: caller.tenant });
      await access.authorize({ kind: 'source', source: 'route', name: route.routeKey, tenant, depth: 0 }, 'function:invoke', fnRef(target));
      await access.claim('route', route.id, tenant);
      const { record, change } = await deps.registry.createRoute({ ...route, ...(req.qualifier ? { qualifier: req.qualifier } : {}), createdMs: Date.now() });
      if (change) deps.live.apply(change);
      return routeToPb(record);
    }),
    listRoutes: unary(ctx, 'stratus.RouteService/ListRoutes', async (_req, _span, caller) => {
      await access.authorize(caller, 'function:read', { kind: 'function', name: '*', tenant: caller.tenant });
      // From the store, not this router's copy: a caller listing right after a write elsewhere sees it.
      const changes = await deps.registry.snapshot();
      const routes = changes.flatMap((c) => (c.kind === 'route' && c.record && visibleRoute(caller, c.record.id) ? [c.record] : []));
      // Matching order, so the list reads the way requests are routed.
      return { routes: RouteTable.compile(routes).routes().map(routeToPb) };
    }),
    deleteRoute: unary(ctx, 'stratus.RouteService/DeleteRoute', async (req, _span, caller) => {
      const id = req.id.trim();
      await access.authorize(caller, 'function:write', { kind: 'function', name: '*', tenant: caller.tenant });
      if (!ownsSource(caller, await access.ownerOf('route', id))) throw new StratusError('AccessDenied', `route ${id} belongs to another tenant: only its tenant may delete it`);
      deps.live.apply(await deps.registry.deleteRoute(id));
      await access.release('route', id);
      return {};
    }),
    putFunctionUrl: unary(ctx, 'stratus.RouteService/PutFunctionUrl', async (req, _span, caller) => {
      const name = validateFunctionName(req.functionName);
      await access.authorize(caller, 'function:write', fnRef(await requireFunction(deps, name)));
      const { record, change } = await deps.registry.putFunctionUrl(name, routeAuthFromPb(req.auth), DEFAULT_FUNCTION_URL_AUTH);
      if (change) deps.live.apply(change);
      return functionUrlToPb(record, deps.httpBaseUrl());
    }),
    getFunctionUrl: unary(ctx, 'stratus.RouteService/GetFunctionUrl', async (req, _span, caller) => {
      const name = validateFunctionName(req.functionName);
      await access.authorize(caller, 'function:read', fnRef(await requireFunction(deps, name)));
      const record = await deps.registry.getFunctionUrl(name);
      if (!record) throw new StratusError('ResourceNotFound', `function '${name}' has no URL: give it one with stratus url ${name}`);
      return functionUrlToPb(record, deps.httpBaseUrl());
    }),
    listFunctionUrls: unary(ctx, 'stratus.RouteService/ListFunctionUrls', async (_req, _span, caller) => {
      await access.authorize(caller, 'function:read', { kind: 'function', name: '*', tenant: caller.tenant });
      const changes = await deps.registry.snapshot();
      const urls = changes.flatMap((c) => (c.kind === 'url' && c.record ? [c.record] : [])).sort((a, b) => a.functionName.localeCompare(b.functionName));
      const visible: typeof urls = [];
      for (const u of urls) {
        const fn = await deps.functions.get(u.functionName);
        if (fn && access.checkNow(caller, 'function:read', fnRef(fn)).allowed) visible.push(u);
      }
      return { urls: visible.map((u) => functionUrlToPb(u, deps.httpBaseUrl())) };
    }),
    deleteFunctionUrl: unary(ctx, 'stratus.RouteService/DeleteFunctionUrl', async (req, _span, caller) => {
      const name = validateFunctionName(req.functionName);
      const fn = await deps.functions.get(name);
      if (fn) await access.authorize(caller, 'function:write', fnRef(fn));
      deps.live.apply(await deps.registry.deleteFunctionUrl(name));
      return {};
    }),
  };
}

/** The base URL function URLs are shown under: https when the port serves TLS, the HTTP host and port, with a wildcard bind shown as this host's name. */
export function httpBaseUrl(host: string, port: number, hostname: string, tls: boolean): string {
  const shown = host === '0.0.0.0' || host === '::' || host === '' ? hostname : host.includes(':') ? `[${host}]` : host;
  return `${tls ? 'https' : 'http'}://${shown}:${port}`;
}
