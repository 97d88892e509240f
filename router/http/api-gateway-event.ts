/**
 * Builds API Gateway HTTP API payload format 2.0 events (reference/api-gateway-events.md §1) from
 * plain request data. Pure: the server adapter gathers the data, this decides the shape.
 */
import { isUtf8 } from 'node:buffer';

/** The request as the gateway saw it. */
export interface GatewayRequest {
  method: string;
  /** Path as sent, without the query (percent-escapes kept). */
  rawPath: string;
  /** Everything after the first '?', as sent; '' when none. */
  rawQueryString: string;
  /** `HTTP/1.1` and so on. */
  protocol: string;
  /** Header names and values in arrival order, alternating (Node's `rawHeaders`). */
  rawHeaders: readonly string[];
  body: Buffer;
  sourceIp: string;
  requestId: string;
  timeMs: number;
}

/** Where the request goes and how API Gateway would describe it. */
export interface EventTarget {
  /** `$default` or `METHOD /path`. */
  routeKey: string;
  pathParameters: Record<string, string>;
  accountId: string;
  /** API Gateway's API id; Stratus uses `stratus` for routes and the function name for function URLs. */
  apiId: string;
}

/** The event handed to the function; absent values are left out, as API Gateway does. */
export interface ApiGatewayV2Event {
  version: '2.0';
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  requestContext: {
    accountId: string;
    apiId: string;
    domainName: string;
    domainPrefix: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    routeKey: string;
    stage: '$default';
    time: string;
    timeEpoch: number;
  };
  body?: string;
  pathParameters?: Record<string, string>;
  isBase64Encoded: boolean;
}

/** Splits `req.url` into the raw path and raw query string. */
export function splitUrl(url: string): { rawPath: string; rawQueryString: string } {
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  return { rawPath: rawPath || '/', rawQueryString: q < 0 ? '' : url.slice(q + 1) };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => String(n).padStart(2, '0');

/** Common Log Format time, `dd/Mon/yyyy:HH:mm:ss +0000`, always in UTC. */
export function clfTime(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/** Headers lower-cased with repeats joined by commas; every Cookie header split into `cookies`. */
export function collectHeaders(rawHeaders: readonly string[]): { headers: Record<string, string>; cookies: string[] } {
  // A Map, then fromEntries: names such as __proto__ or constructor stay plain own keys.
  const headers = new Map<string, string>();
  const cookies: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const value = rawHeaders[i + 1] as string;
    if (name === 'cookie') {
      for (const c of value.split(';')) {
        const t = c.trim();
        if (t) cookies.push(t);
      }
      continue;
    }
    const held = headers.get(name);
    headers.set(name, held === undefined ? value : `${held},${value}`);
  }
  return { headers: Object.fromEntries(headers), cookies };
}

/** Query parameters decoded, repeats joined by commas; undefined when there are none. */
export function parseQueryString(raw: string): Record<string, string> | undefined {
  if (!raw) return undefined;
  const out = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(raw)) {
    const held = out.get(k);
    out.set(k, held === undefined ? v : `${held},${v}`);
  }
  return out.size > 0 ? Object.fromEntries(out) : undefined;
}

const TEXT_TYPES = new Set([
  'application/json',
  'application/xml',
  'application/javascript',
  'application/ecmascript',
  'application/x-www-form-urlencoded',
  'application/graphql',
  'application/x-ndjson',
  'application/yaml',
  'application/x-yaml',
  'application/csv',
]);

/**
 * True when a body of this content type is text: `text/*`, JSON, XML, form data and their
 * `+json`/`+xml` kin. A missing type or a content-encoding (gzip…) makes it binary, since the
 * bytes then cannot be trusted to be text.
 */
export function isTextContent(contentType: string | undefined, contentEncoding: string | undefined): boolean {
  if (contentEncoding && contentEncoding.trim().toLowerCase() !== 'identity') return false;
  if (!contentType) return false;
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return type.startsWith('text/') || TEXT_TYPES.has(type) || type.endsWith('+json') || type.endsWith('+xml');
}

/** The body as the event carries it: text as is, anything else (or invalid UTF-8) base64-encoded. */
export function encodeBody(body: Buffer, headers: Record<string, string>): { body?: string; isBase64Encoded: boolean } {
  if (body.length === 0) return { isBase64Encoded: false };
  if (isTextContent(headers['content-type'], headers['content-encoding']) && isUtf8(body)) return { body: body.toString('utf8'), isBase64Encoded: false };
  return { body: body.toString('base64'), isBase64Encoded: true };
}

/** Builds the payload format 2.0 event for a matched request. */
export function buildEvent(req: GatewayRequest, target: EventTarget): ApiGatewayV2Event {
  const { headers, cookies } = collectHeaders(req.rawHeaders);
  const domainName = headers.host ?? 'localhost';
  const query = parseQueryString(req.rawQueryString);
  const { body, isBase64Encoded } = encodeBody(req.body, headers);
  const hasParams = Object.keys(target.pathParameters).length > 0;
  return {
    version: '2.0',
    routeKey: target.routeKey,
    rawPath: req.rawPath,
    rawQueryString: req.rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(query ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: target.accountId,
      apiId: target.apiId,
      domainName,
      // The first label of the host, as API Gateway's "id" in id.execute-api…; the port is not part of it.
      domainPrefix: (domainName.split(/[.:]/)[0] ?? '') || domainName,
      http: { method: req.method.toUpperCase(), path: req.rawPath, protocol: req.protocol, sourceIp: req.sourceIp, userAgent: headers['user-agent'] ?? '' },
      requestId: req.requestId,
      routeKey: target.routeKey,
      stage: '$default',
      time: clfTime(req.timeMs),
      timeEpoch: req.timeMs,
    },
    ...(body !== undefined ? { body } : {}),
    ...(hasParams ? { pathParameters: target.pathParameters } : {}),
    isBase64Encoded,
  };
}
