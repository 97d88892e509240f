/**
 * HTTP endpoints as the API and the router speak of them: routes (method + path template → a
 * function) and function URLs. Validation lives here so the CLI, SDK and router agree on it.
 */
import { createHash } from 'node:crypto';
import { StratusError } from './errors';
import { validateFunctionName } from './function-config';

/** Who may call an endpoint: anyone, or callers presenting one of the router's API tokens. */
export type RouteAuth = 'none' | 'token';

/** Methods a route can name; ANY matches every method no other route names. */
export const ROUTE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'ANY'] as const;

/** A route's method. */
export type RouteMethod = (typeof ROUTE_METHODS)[number];

/** The catch-all route key, matched when no other route does. */
export const DEFAULT_ROUTE = '$default';

/** Requests under this prefix go to function URLs (`/fn/<name>/…`); no route may use it. */
export const FUNCTION_URL_PREFIX = '/fn/';

/** Paths the router's HTTP port answers itself (health, readiness, metrics); no route may use them. */
export const RESERVED_PATHS: readonly string[] = ['/healthz', '/readyz', '/metrics'];

/** Auth of a route when none is given (API Gateway's default: a route is public). */
export const DEFAULT_ROUTE_AUTH: RouteAuth = 'none';

/** Auth of a function URL when none is given (closed unless opened on purpose). */
export const DEFAULT_FUNCTION_URL_AUTH: RouteAuth = 'token';

/** One segment of a path template. */
export type PathSegment =
  | { kind: 'literal'; value: string }
  | { kind: 'param'; name: string }
  /** `{name+}`: one or more trailing segments; only last. */
  | { kind: 'greedy'; name: string };

/** A stored route. */
export interface RouteRecord {
  /** Derived from the route key, so the same route always has the same id. */
  id: string;
  /** `$default` or `METHOD /path`, as the event's routeKey. */
  routeKey: string;
  method: RouteMethod;
  /** Path template, or `$default`. */
  path: string;
  functionName: string;
  /** The version or alias it invokes; absent or empty: $LATEST. */
  qualifier?: string;
  auth: RouteAuth;
  createdMs: number;
}

/** A function's own URL. */
export interface FunctionUrlRecord {
  functionName: string;
  auth: RouteAuth;
  createdMs: number;
}

const PARAM_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
// Unreserved and sub-delimiter characters plus '%' for escapes: what a literal segment may hold.
const LITERAL = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%]+$/;

function invalidPath(path: string, why: string): StratusError {
  return new StratusError('InvalidRequest', `route path '${path}' ${why}: use a path like /users/{id} or /{proxy+}, or $default`);
}

/**
 * Parses a path template into segments. `/` is the root (no segments); a trailing slash is
 * ignored, as it is when requests are matched.
 */
export function parseRoutePath(path: string): PathSegment[] {
  if (!path.startsWith('/')) throw invalidPath(path, 'must start with /');
  if (path.length > 1024) throw invalidPath(path, 'is longer than 1024 characters');
  const parts = path.slice(1).split('/');
  if (parts.at(-1) === '') parts.pop();
  const names = new Set<string>();
  return parts.map((part, i) => {
    if (part === '') throw invalidPath(path, 'has an empty segment (//)');
    const param = /^\{([^{}]+?)(\+?)\}$/.exec(part);
    if (param) {
      const [, name = '', plus] = param;
      if (!PARAM_NAME.test(name)) throw invalidPath(path, `has a bad parameter name '${name}'`);
      if (names.has(name)) throw invalidPath(path, `names parameter '${name}' twice`);
      names.add(name);
      if (plus && i !== parts.length - 1) throw invalidPath(path, `has the greedy parameter {${name}+} before the last segment`);
      return plus ? { kind: 'greedy', name } : { kind: 'param', name };
    }
    if (!LITERAL.test(part)) throw invalidPath(path, `has a segment '${part}' with characters a path cannot hold`);
    return { kind: 'literal', value: part };
  });
}

/** Normalises and validates a method name. */
export function parseRouteMethod(method: string): RouteMethod {
  const upper = method.trim().toUpperCase();
  const found = ROUTE_METHODS.find((m) => m === upper);
  if (!found) throw new StratusError('InvalidRequest', `'${method}' is not a route method: use one of ${ROUTE_METHODS.join(', ')}`);
  return found;
}

/** The route key for a method and path: `$default`, or `METHOD /path`. */
export function routeKeyOf(method: RouteMethod, path: string): string {
  return path === DEFAULT_ROUTE ? DEFAULT_ROUTE : `${method} ${path}`;
}

/** A route's id: the first 12 hex digits of sha256(routeKey); stable, so creating a route is idempotent. */
export function routeIdOf(routeKey: string): string {
  return createHash('sha256').update(routeKey).digest('hex').slice(0, 12);
}

/** Validates what a caller asks for and returns the route it describes (createdMs left to the caller). */
export function describeRoute(input: { method: string; path: string; functionName: string; auth?: RouteAuth }): Omit<RouteRecord, 'createdMs'> {
  const functionName = validateFunctionName(input.functionName);
  const path = input.path.trim();
  let method = parseRouteMethod(input.method || 'ANY');
  if (path === DEFAULT_ROUTE) {
    if (method !== 'ANY') throw new StratusError('InvalidRequest', `the $default route matches every method: create it as ANY $default, not ${method} $default`);
  } else {
    parseRoutePath(path);
    if (path === FUNCTION_URL_PREFIX.slice(0, -1) || path.startsWith(FUNCTION_URL_PREFIX)) {
      throw invalidPath(path, `is under ${FUNCTION_URL_PREFIX}, which function URLs use (give the function a URL with stratus url <function>)`);
    }
    const bare = path.replace(/\/$/, '');
    if (bare === '/console' || bare.startsWith('/console/')) throw invalidPath(path, 'is the web console\'s (stratus console opens it)');
    if (RESERVED_PATHS.includes(bare)) throw invalidPath(path, 'is where the router answers health and metrics probes');
  }
  method = path === DEFAULT_ROUTE ? 'ANY' : method;
  const routeKey = routeKeyOf(method, path);
  return { id: routeIdOf(routeKey), routeKey, method, path, functionName, auth: input.auth ?? DEFAULT_ROUTE_AUTH };
}

/** The path prefix of a function's URL. */
export function functionUrlPath(functionName: string): string {
  return `${FUNCTION_URL_PREFIX}${functionName}/`;
}
