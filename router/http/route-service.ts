import type { RouteServiceServer } from '../../proto/gen/stratus/v1/routes';
import { StratusError } from '../../sdk/core/errors';
import { validateFunctionName } from '../../sdk/core/function-config';
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
  functions: { get(name: string): Promise<unknown> };
  /** `http://host:port` of this router's HTTP port, once known, for full function URLs. */
  httpBaseUrl: () => string | undefined;
}

async function requireFunction(deps: RouteServiceDeps, name: string): Promise<void> {
  if (!(await deps.functions.get(name))) {
    throw new StratusError('FunctionNotFound', `function '${name}' does not exist: deploy it first (stratus deploy ${name} <folder>) or check the name with stratus ls`);
  }
}

/** RouteService: HTTP routes and function URLs, stored in KV and served by every router. */
export function createRouteService(ctx: HandlerContext, deps: RouteServiceDeps): RouteServiceServer {
  return {
    createRoute: unary(ctx, 'stratus.RouteService/CreateRoute', async (req) => {
      const route = describeRoute({ method: req.method, path: req.path, functionName: req.functionName, auth: routeAuthFromPb(req.auth) });
      await requireFunction(deps, route.functionName);
      const { record, change } = await deps.registry.createRoute({ ...route, createdMs: Date.now() });
      if (change) deps.live.apply(change);
      return routeToPb(record);
    }),
    listRoutes: unary(ctx, 'stratus.RouteService/ListRoutes', async () => {
      // From the store, not this router's copy: a caller listing right after a write elsewhere sees it.
      const changes = await deps.registry.snapshot();
      const routes = changes.flatMap((c) => (c.kind === 'route' && c.record ? [c.record] : []));
      // Matching order, so the list reads the way requests are routed.
      return { routes: RouteTable.compile(routes).routes().map(routeToPb) };
    }),
    deleteRoute: unary(ctx, 'stratus.RouteService/DeleteRoute', async (req) => {
      deps.live.apply(await deps.registry.deleteRoute(req.id.trim()));
      return {};
    }),
    putFunctionUrl: unary(ctx, 'stratus.RouteService/PutFunctionUrl', async (req) => {
      const name = validateFunctionName(req.functionName);
      await requireFunction(deps, name);
      const { record, change } = await deps.registry.putFunctionUrl(name, routeAuthFromPb(req.auth), DEFAULT_FUNCTION_URL_AUTH);
      if (change) deps.live.apply(change);
      return functionUrlToPb(record, deps.httpBaseUrl());
    }),
    getFunctionUrl: unary(ctx, 'stratus.RouteService/GetFunctionUrl', async (req) => {
      const name = validateFunctionName(req.functionName);
      const record = await deps.registry.getFunctionUrl(name);
      if (!record) throw new StratusError('ResourceNotFound', `function '${name}' has no URL: give it one with stratus url ${name}`);
      return functionUrlToPb(record, deps.httpBaseUrl());
    }),
    listFunctionUrls: unary(ctx, 'stratus.RouteService/ListFunctionUrls', async () => {
      const changes = await deps.registry.snapshot();
      const urls = changes.flatMap((c) => (c.kind === 'url' && c.record ? [c.record] : [])).sort((a, b) => a.functionName.localeCompare(b.functionName));
      return { urls: urls.map((u) => functionUrlToPb(u, deps.httpBaseUrl())) };
    }),
    deleteFunctionUrl: unary(ctx, 'stratus.RouteService/DeleteFunctionUrl', async (req) => {
      deps.live.apply(await deps.registry.deleteFunctionUrl(validateFunctionName(req.functionName)));
      return {};
    }),
  };
}

/** The base URL function URLs are shown under: https when the port serves TLS, the HTTP host and port, with a wildcard bind shown as this host's name. */
export function httpBaseUrl(host: string, port: number, hostname: string, tls: boolean): string {
  const shown = host === '0.0.0.0' || host === '::' || host === '' ? hostname : host.includes(':') ? `[${host}]` : host;
  return `${tls ? 'https' : 'http'}://${shown}:${port}`;
}
