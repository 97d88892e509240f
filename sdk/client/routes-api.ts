import type { FunctionUrl as FunctionUrlPb, ListFunctionUrlsResponse, ListRoutesResponse, Route as RoutePb } from '../../proto/gen/stratus/v1/routes';
import { functionUrlFromPb, routeAuthToPb, routeFromPb } from '../core/wire/route-codec';
import type { FunctionUrlInfo, RouteAuth, RouteInfo } from './route-types';
import type { RouterTransport } from './router-transport';

/** Maps `METHOD path` on every router's HTTP port to a function; see StratusClient.createRoute. */
export async function createRoute(t: RouterTransport, method: string, path: string, functionName: string, auth: RouteAuth | undefined, qualifier = ''): Promise<RouteInfo> {
  const res = await t.call<RoutePb>('write', 'CreateRoute', t.deadline(), undefined, (s, md, opts, cb) =>
    s.routes.createRoute({ method, path, functionName, auth: routeAuthToPb(auth), qualifier }, md, opts, cb),
  );
  return routeFromPb(res);
}

/** Every route, in the order requests are matched against them. */
export async function listRoutes(t: RouterTransport): Promise<RouteInfo[]> {
  const res = await t.call<ListRoutesResponse>('read', 'ListRoutes', t.deadline(), undefined, (s, md, opts, cb) => s.routes.listRoutes({}, md, opts, cb));
  return res.routes.map(routeFromPb);
}

/** Deletes a route by id; ResourceNotFound when absent. */
export async function deleteRoute(t: RouterTransport, id: string): Promise<void> {
  await t.call('write', 'DeleteRoute', t.deadline(), undefined, (s, md, opts, cb) => s.routes.deleteRoute({ id }, md, opts, cb));
}

/** Gives a function its own URL or changes its auth; see StratusClient.putFunctionUrl. */
export async function putFunctionUrl(t: RouterTransport, functionName: string, auth: RouteAuth | undefined): Promise<FunctionUrlInfo> {
  const res = await t.call<FunctionUrlPb>('write', 'PutFunctionUrl', t.deadline(), undefined, (s, md, opts, cb) =>
    s.routes.putFunctionUrl({ functionName, auth: routeAuthToPb(auth) }, md, opts, cb),
  );
  return functionUrlFromPb(res);
}

/** A function's URL; ResourceNotFound when it has none. */
export async function getFunctionUrl(t: RouterTransport, functionName: string): Promise<FunctionUrlInfo> {
  return functionUrlFromPb(await t.call<FunctionUrlPb>('read', 'GetFunctionUrl', t.deadline(), undefined, (s, md, opts, cb) => s.routes.getFunctionUrl({ functionName }, md, opts, cb)));
}

/** Every function URL. */
export async function listFunctionUrls(t: RouterTransport): Promise<FunctionUrlInfo[]> {
  const res = await t.call<ListFunctionUrlsResponse>('read', 'ListFunctionUrls', t.deadline(), undefined, (s, md, opts, cb) => s.routes.listFunctionUrls({}, md, opts, cb));
  return res.urls.map(functionUrlFromPb);
}

/** Removes a function's URL; ResourceNotFound when it has none. */
export async function deleteFunctionUrl(t: RouterTransport, functionName: string): Promise<void> {
  await t.call('write', 'DeleteFunctionUrl', t.deadline(), undefined, (s, md, opts, cb) => s.routes.deleteFunctionUrl({ functionName }, md, opts, cb));
}
