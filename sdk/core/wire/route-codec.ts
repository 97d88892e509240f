import { RouteAuth as RouteAuthPb, type FunctionUrl as FunctionUrlPb, type Route as RoutePb } from '../../../proto/gen/stratus/v1/routes';
import { StratusError } from '../errors';
import { functionUrlPath, parseRouteMethod, type FunctionUrlRecord, type RouteAuth, type RouteRecord } from '../http-route';

/** Domain auth → wire; undefined means "the server's default". */
export function routeAuthToPb(auth: RouteAuth | undefined): RouteAuthPb {
  switch (auth) {
    case undefined:
      return RouteAuthPb.ROUTE_AUTH_UNSPECIFIED;
    case 'none':
      return RouteAuthPb.ROUTE_AUTH_NONE;
    case 'token':
      return RouteAuthPb.ROUTE_AUTH_TOKEN;
    default: {
      const unknown: never = auth;
      return unknown;
    }
  }
}

/** Wire auth → domain; UNSPECIFIED becomes undefined (the caller applies its default). */
export function routeAuthFromPb(auth: RouteAuthPb): RouteAuth | undefined {
  switch (auth) {
    case RouteAuthPb.ROUTE_AUTH_UNSPECIFIED:
      return undefined;
    case RouteAuthPb.ROUTE_AUTH_NONE:
      return 'none';
    case RouteAuthPb.ROUTE_AUTH_TOKEN:
      return 'token';
    default: {
      const unknown: never = auth;
      throw new StratusError('InvalidRequest', `unknown route auth ${String(unknown)}: use none or token`);
    }
  }
}

/** Parses `none` / `token` as typed by a user. */
export function parseRouteAuth(value: string): RouteAuth {
  const v = value.trim().toLowerCase();
  if (v === 'none' || v === 'token') return v;
  throw new StratusError('InvalidRequest', `'${value}' is not an auth mode: use none (anyone may call) or token (Authorization: Bearer <API token>)`);
}

/** Domain route → wire. */
export function routeToPb(r: RouteRecord): RoutePb {
  return { id: r.id, routeKey: r.routeKey, method: r.method, path: r.path, functionName: r.functionName, auth: routeAuthToPb(r.auth), createdMs: r.createdMs, qualifier: r.qualifier ?? '' };
}

/** Wire route → domain. */
export function routeFromPb(r: RoutePb): RouteRecord {
  return { id: r.id, routeKey: r.routeKey, method: parseRouteMethod(r.method), path: r.path, functionName: r.functionName, auth: routeAuthFromPb(r.auth) ?? 'none', createdMs: r.createdMs, ...(r.qualifier ? { qualifier: r.qualifier } : {}) };
}

/** A function URL as the API returns it: the record plus where to call it. */
export interface FunctionUrlInfo extends FunctionUrlRecord {
  /** Path prefix on every router's HTTP port: `/fn/<name>/`. */
  path: string;
  /** Full URL on the router that answered; empty when it does not know its address. */
  url: string;
}

/** Domain function URL → wire. */
export function functionUrlToPb(u: FunctionUrlRecord, baseUrl: string | undefined): FunctionUrlPb {
  const path = functionUrlPath(u.functionName);
  return { functionName: u.functionName, auth: routeAuthToPb(u.auth), path, url: baseUrl ? `${baseUrl}${path}` : '', createdMs: u.createdMs };
}

/** Wire function URL → domain. */
export function functionUrlFromPb(u: FunctionUrlPb): FunctionUrlInfo {
  return { functionName: u.functionName, auth: routeAuthFromPb(u.auth) ?? 'token', path: u.path, url: u.url, createdMs: u.createdMs };
}
