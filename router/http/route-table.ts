import { DEFAULT_ROUTE, parseRoutePath, type PathSegment, type RouteRecord } from '../../sdk/core/http-route';

/** A request matched to a route. */
export type RouteMatch =
  | { kind: 'route'; route: RouteRecord; pathParameters: Record<string, string> }
  | { kind: 'none' };

interface Compiled {
  route: RouteRecord;
  segments: PathSegment[];
}

// Higher is more specific; a route's rank vector is compared segment by segment.
const RANK: Record<PathSegment['kind'], number> = { literal: 2, param: 1, greedy: 0 };

/**
 * Orders two routes the way API Gateway picks between matches: at the first segment where they
 * differ, a literal beats a parameter beats a greedy parameter; on equal paths a named method
 * beats ANY. Only routes that can match the same request are ever compared in effect, and for
 * those this is a total order, so "first match in sorted order" is "most specific match".
 */
function compareSpecificity(a: Compiled, b: Compiled): number {
  const n = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i += 1) {
    const x = a.segments[i];
    const y = b.segments[i];
    if (!x || !y) return x ? -1 : 1;
    const d = RANK[y.kind] - RANK[x.kind];
    if (d !== 0) return d;
  }
  if (a.route.method !== b.route.method) {
    if (a.route.method === 'ANY') return 1;
    if (b.route.method === 'ANY') return -1;
  }
  return a.route.routeKey < b.route.routeKey ? -1 : a.route.routeKey > b.route.routeKey ? 1 : 0;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // A malformed escape is kept as sent rather than failing the request.
    return segment;
  }
}

/** Splits a request path into decoded segments; a trailing slash is ignored, as in templates. */
export function splitRequestPath(rawPath: string): string[] {
  const parts = rawPath.split('/').slice(1);
  if (parts.at(-1) === '') parts.pop();
  return parts.map(decode);
}

function matchSegments(segments: PathSegment[], parts: string[]): Record<string, string> | undefined {
  // A Map, then fromEntries: a parameter named __proto__ stays a plain own key.
  const params = new Map<string, string>();
  for (let i = 0; i < segments.length; i += 1) {
    const seg = segments[i] as PathSegment;
    if (seg.kind === 'greedy') {
      if (i >= parts.length) return undefined;
      params.set(seg.name, parts.slice(i).join('/'));
      return Object.fromEntries(params);
    }
    const part = parts[i];
    if (part === undefined) return undefined;
    if (seg.kind === 'literal') {
      if (decode(seg.value) !== part) return undefined;
    } else {
      if (part === '') return undefined;
      params.set(seg.name, part);
    }
  }
  return segments.length === parts.length ? Object.fromEntries(params) : undefined;
}

/**
 * An immutable, compiled set of routes. Matching is a scan in specificity order that stops at
 * the first hit, so it costs at most one pass over the routes and allocates only the parameters.
 */
export class RouteTable {
  private readonly ordered: Compiled[];
  private readonly fallback: RouteRecord | undefined;

  private constructor(ordered: Compiled[], fallback: RouteRecord | undefined) {
    this.ordered = ordered;
    this.fallback = fallback;
  }

  /** Compiles routes; a route whose template no longer parses is left out rather than breaking the table. */
  static compile(routes: Iterable<RouteRecord>): RouteTable {
    const ordered: Compiled[] = [];
    let fallback: RouteRecord | undefined;
    for (const route of routes) {
      if (route.path === DEFAULT_ROUTE) {
        fallback = route;
        continue;
      }
      try {
        ordered.push({ route, segments: parseRoutePath(route.path) });
      } catch {
        // Stored by an older or newer router with other rules: skip it, keep serving the rest.
      }
    }
    ordered.sort(compareSpecificity);
    return new RouteTable(ordered, fallback);
  }

  /** The most specific route for a request, or `$default`, or none. */
  match(method: string, rawPath: string): RouteMatch {
    const upper = method.toUpperCase();
    const parts = splitRequestPath(rawPath);
    for (const c of this.ordered) {
      if (c.route.method !== 'ANY' && c.route.method !== upper) continue;
      const params = matchSegments(c.segments, parts);
      if (params) return { kind: 'route', route: c.route, pathParameters: params };
    }
    return this.fallback ? { kind: 'route', route: this.fallback, pathParameters: {} } : { kind: 'none' };
  }

  /** Every route in the order they are tried, `$default` last. */
  routes(): RouteRecord[] {
    return [...this.ordered.map((c) => c.route), ...(this.fallback ? [this.fallback] : [])];
  }
}
