/**
 * Maps a function's result to an HTTP response by API Gateway HTTP API payload format 2.0 rules
 * (reference/api-gateway-events.md §2). Pure: bytes in, a response or the reason it is malformed out.
 */

/** An HTTP response ready to write. Header pairs may repeat (set-cookie). */
export interface HttpResponse {
  statusCode: number;
  headers: Array<[string, string]>;
  body: Buffer;
}

/** A mapped result, or why API Gateway would answer 502 instead. */
export type MappedResult = { kind: 'response'; response: HttpResponse } | { kind: 'malformed'; reason: string };

// We compute the framing ourselves; a function's own value would lie about the bytes we send.
const HOP_BY_HOP = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// What Node accepts in a header value: tab, printable ASCII and Latin-1; never CR, LF or NUL.
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

function malformed(reason: string): MappedResult {
  return { kind: 'malformed', reason };
}

function inferred(body: Buffer): MappedResult {
  return { kind: 'response', response: { statusCode: 200, headers: [['content-type', 'application/json']], body } };
}

function headerValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) return v.map(String).join(',');
  return undefined;
}

function structured(value: Record<string, unknown>): MappedResult {
  const { statusCode } = value;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    return malformed(`statusCode must be an integer from 100 to 599, got ${JSON.stringify(statusCode)}`);
  }
  const headers: Array<[string, string]> = [];
  if (value.headers !== undefined && value.headers !== null) {
    if (typeof value.headers !== 'object' || Array.isArray(value.headers)) return malformed('headers must be an object of header names to string values');
    for (const [name, raw] of Object.entries(value.headers as Record<string, unknown>)) {
      if (raw === undefined || raw === null) continue;
      const v = headerValue(raw);
      if (v === undefined) return malformed(`header '${name}' must be a string, number or boolean`);
      if (!TOKEN.test(name)) return malformed(`'${name}' is not a valid header name`);
      if (BAD_VALUE.test(v)) return malformed(`header '${name}' holds characters HTTP cannot carry (line breaks or non-Latin-1)`);
      if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push([name, v]);
    }
  }
  if (value.cookies !== undefined && value.cookies !== null) {
    if (!Array.isArray(value.cookies) || !value.cookies.every((c) => typeof c === 'string')) return malformed('cookies must be an array of strings');
    for (const c of value.cookies as string[]) {
      if (BAD_VALUE.test(c)) return malformed('a cookie holds characters HTTP cannot carry (line breaks or non-Latin-1)');
      headers.push(['set-cookie', c]);
    }
  }
  // API Gateway wants a string; an object body is a common slip, so it is sent as its JSON.
  const raw = value.body;
  const text = raw === undefined || raw === null ? '' : typeof raw === 'string' ? raw : JSON.stringify(raw);
  if (value.isBase64Encoded !== undefined && value.isBase64Encoded !== null && typeof value.isBase64Encoded !== 'boolean') {
    return malformed('isBase64Encoded must be a boolean');
  }
  const body = value.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
  return { kind: 'response', response: { statusCode, headers, body } };
}

/**
 * Turns a function's result payload into a response. A JSON object with a `statusCode` key is the
 * full form; any other JSON value is the inferred form (200, application/json, the value as the
 * body, a string without its quotes). Bytes that are not JSON are malformed. An empty payload is
 * a 200 with no body.
 */
export function mapFunctionResult(payload: Buffer): MappedResult {
  if (payload.length === 0) return { kind: 'response', response: { statusCode: 200, headers: [], body: Buffer.alloc(0) } };
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return malformed('the result is not JSON');
  }
  if (typeof value === 'string') return inferred(Buffer.from(value, 'utf8'));
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'statusCode' in value) return structured(value as Record<string, unknown>);
  // The payload already is the value's JSON: sending it as is keeps numbers exactly as written.
  return inferred(payload);
}
