/** HTTP endpoint types the SDK returns (kept apart from types.ts so each concept has its file). */
import type { RouteRecord } from '../core/http-route';

export type { RouteAuth, RouteMethod } from '../core/http-route';
export type { FunctionUrlInfo } from '../core/wire/route-codec';

/** A route as the API returns it: `routeKey` (`GET /users/{id}` or `$default`) mapped to a function. */
export type RouteInfo = RouteRecord;
