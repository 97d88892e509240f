/**
 * The HTTP gateway: the server adapter between Node's HTTP server and the invoke path. It
 * matches the request to a route or function URL, checks auth, builds the payload format 2.0
 * event, invokes synchronously through placement, and maps the result back. The decisions live
 * in pure modules (route-table, api-gateway-event, api-gateway-response, http-errors).
 */
import { findInvokeTarget } from '../functions/invoke-target';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, defaultTextMapGetter, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import { parseBearer } from '../../sdk/platform/auth';
import { depthAfter, tenantOf, type Principal } from '../../sdk/core/identity';
import type { AccessControl } from '../auth/access-control';
import type { Authenticator } from '../auth/authenticator';
import { StratusError, toStratusError } from '../../sdk/core/errors';
import { functionArn, type FunctionRecord } from '../../sdk/core/function-config';
import { FUNCTION_URL_PREFIX, type FunctionUrlRecord, type RouteAuth } from '../../sdk/core/http-route';
import type { Logger } from '../../sdk/platform/logger';
import type { Invoker } from '../invoke/invoker';
import { buildEvent, splitUrl, type GatewayRequest } from './api-gateway-event';
import { mapFunctionResult, type HttpResponse } from './api-gateway-response';
import { functionFailed, malformedResult, notFound, payloadTooLarge, responseForError, unauthorized } from './http-errors';
import { discardBody, readBody } from './read-body';
import type { RouteTable } from './route-table';

/** The routes the gateway serves: a narrow view of LiveRoutes. */
export interface RouteSource {
  table(): RouteTable;
  functionUrl(functionName: string): FunctionUrlRecord | undefined;
}

/** What the gateway needs from the rest of the router. */
export interface HttpGatewayDeps {
  routes: RouteSource;
  functions: { get(name: string): Promise<FunctionRecord | undefined> };
  /** Resolves a route's qualifier (a version or an alias); without it routes run $LATEST. */
  targets?: { resolve(name: string, qualifier: string): Promise<FunctionRecord> };
  invoker: Pick<Invoker, 'invoke'>;
  /** Who a `token` route's caller is. */
  auth: Pick<Authenticator, 'authenticate'>;
  /** Whether that caller, or a route's tenant, may invoke the function. */
  access: Pick<AccessControl, 'check' | 'ownerOf'>;
  tracer: Tracer;
  logger: Logger;
}

/** Options for {@link HttpGateway}. */
export interface HttpGatewayOptions {
  region: string;
  accountId: string;
  /** Time allowed on top of the function's timeout for placement, cold start and transit. */
  deadlineSlackMs: number;
  /** Largest request body and largest event (after base64) accepted: the 6 MB sync payload limit. */
  maxPayloadBytes: number;
}

/** Where a request goes once its route or URL is known. */
interface Target {
  functionName: string;
  /** The version or alias a route invokes; empty: $LATEST. */
  qualifier: string;
  auth: RouteAuth;
  routeKey: string;
  /** The route's path template (`/users/{id}`, `$default`, `/fn/<name>/*`), for traces. */
  template: string;
  pathParameters: Record<string, string>;
  /** The path the function sees: a function URL's path without its /fn/<name> prefix. */
  eventPath: string;
  apiId: string;
  /** The route's id (its owner decides on whose behalf it invokes); undefined for a function URL. */
  routeId: string | undefined;
  /** A function URL whose function is gone answers 404, a route to it 500 (API Gateway's answers). */
  isFunctionUrl: boolean;
}

/** The API id routes carry in their events' requestContext. */
const ROUTES_API_ID = 'stratus';

function sourceIp(req: IncomingMessage): string {
  const ip = req.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** Serves HTTP requests as API Gateway HTTP API would, invoking functions through placement. */
export class HttpGateway {
  constructor(
    private readonly deps: HttpGatewayDeps,
    private readonly options: HttpGatewayOptions,
  ) {}

  /** The request listener to hand to the HTTP server. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    // The W3C traceparent of the caller, if any, parents the server span.
    const parent = propagation.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    context
      .with(parent, () =>
        this.deps.tracer.startActiveSpan(`${req.method ?? 'GET'}`, { kind: SpanKind.SERVER }, async (span) => {
          const requestId = randomUUID();
          try {
            let response: HttpResponse;
            try {
              response = await this.serve(req, requestId, span);
            } catch (err) {
              const e = toStratusError(err);
              if (e.code === 'Internal') this.deps.logger.error('HTTP request failed', { err: e, cause: String((e.cause as Error | undefined)?.stack ?? '') });
              response = responseForError(e, requestId);
            }
            span.setAttribute('http.response.status_code', response.statusCode);
            if (response.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
            this.write(req, res, response, requestId);
          } finally {
            span.end();
          }
        }),
      )
      .catch((err: unknown) => {
        // Only writing to a connection that broke can get here; the client is gone either way.
        this.deps.logger.warn('HTTP response could not be written', { err: toStratusError(err) });
        res.destroy();
      });
  };

  private async serve(req: IncomingMessage, requestId: string, span: Span): Promise<HttpResponse> {
    const method = (req.method ?? 'GET').toUpperCase();
    const { rawPath, rawQueryString } = splitUrl(req.url ?? '/');
    span.setAttributes({ 'http.request.method': method, 'url.path': rawPath });
    const target = this.resolve(method, rawPath);
    if (!target) {
      discardBody(req, this.options.maxPayloadBytes);
      return notFound();
    }
    // OpenTelemetry's server span name: method and route template, never the raw path (unbounded cardinality).
    span.updateName(`${method} ${target.template}`);
    span.setAttributes({ 'http.route': target.template, 'stratus.route_key': target.routeKey, 'faas.invoked_name': target.functionName, 'faas.invocation_id': requestId });
    const caller = await this.caller(req, target);
    if (typeof caller === 'string') {
      discardBody(req, this.options.maxPayloadBytes);
      return unauthorized(caller);
    }
    const record = target.qualifier && this.deps.targets ? await findInvokeTarget(this.deps.targets, target.functionName, target.qualifier) : await this.deps.functions.get(target.functionName);
    if (!record) {
      discardBody(req, this.options.maxPayloadBytes);
      if (target.isFunctionUrl) return notFound();
      throw new StratusError('FunctionNotFound', `the route ${target.routeKey} invokes function '${target.functionName}', which does not exist: deploy it or point the route elsewhere`);
    }
    // A public route invokes on its tenant's behalf; a function URL is the function's own.
    const principal: Principal = caller ?? { kind: 'source', source: 'route', name: target.routeKey, tenant: target.routeId ? await this.deps.access.ownerOf('route', target.routeId) : tenantOf(record), depth: 0 };
    const decision = await this.deps.access.check(principal, 'function:invoke', { kind: 'function', name: record.config.name, tenant: tenantOf(record) });
    if (!decision.allowed) {
      discardBody(req, this.options.maxPayloadBytes);
      throw new StratusError('AccessDenied', `${decision.reason}: ${decision.fix}`);
    }
    if (record.config.reservedConcurrency === 0) {
      discardBody(req, this.options.maxPayloadBytes);
      throw new StratusError('TooManyRequests', `function '${target.functionName}' is stopped: its reserved concurrency is 0`, { retryable: false });
    }
    const read = await readBody(req, this.options.maxPayloadBytes);
    if (read.kind === 'tooLarge') {
      discardBody(req, this.options.maxPayloadBytes);
      return payloadTooLarge(`the request body is ${read.bytes} bytes, over the ${this.options.maxPayloadBytes}-byte limit for synchronous invocations: send a reference to the data instead`);
    }
    const request: GatewayRequest = {
      method,
      rawPath: target.eventPath,
      rawQueryString,
      protocol: `HTTP/${req.httpVersion}`,
      rawHeaders: target.auth === 'token' ? withoutAuthorization(req.rawHeaders) : req.rawHeaders,
      body: read.body,
      sourceIp: sourceIp(req),
      requestId,
      timeMs: Date.now(),
    };
    const event = buildEvent(request, { routeKey: target.routeKey, pathParameters: target.pathParameters, accountId: this.options.accountId, apiId: target.apiId });
    const payload = Buffer.from(JSON.stringify(event));
    if (payload.length > this.options.maxPayloadBytes) {
      return payloadTooLarge(`the event is ${payload.length} bytes (a binary body grows by a third in base64), over the ${this.options.maxPayloadBytes}-byte limit: send a smaller body`);
    }
    const result = await this.deps.invoker.invoke({
      requestId,
      record,
      payload,
      deadlineMs: Date.now() + record.config.timeoutSeconds * 1000 + this.options.deadlineSlackMs,
      tailLogs: false,
      clientContext: '',
      invokedFunctionArn: functionArn(this.options.region, this.options.accountId, target.functionName),
      depth: depthAfter(caller),
      origin: { trigger: 'http', source: target.routeKey },
    });
    span.setAttribute('faas.coldstart', result.coldStart);
    if (result.functionFailed) return functionFailed(target.functionName, result.errorType, requestId);
    const mapped = mapFunctionResult(result.payload);
    return mapped.kind === 'response' ? mapped.response : malformedResult(target.functionName, mapped.reason, requestId);
  }

  /** The function URL or route a request is for, or undefined (404). */
  private resolve(method: string, rawPath: string): Target | undefined {
    if (rawPath.startsWith(FUNCTION_URL_PREFIX) || rawPath === FUNCTION_URL_PREFIX.slice(0, -1)) {
      // /fn/<name>[/<rest>]: the function sees /<rest> as its path, as on a Lambda function URL's own host.
      const after = rawPath.slice(FUNCTION_URL_PREFIX.length);
      const slash = after.indexOf('/');
      const name = slash < 0 ? after : after.slice(0, slash);
      const url = name ? this.deps.routes.functionUrl(name) : undefined;
      if (!url) return undefined;
      const eventPath = slash < 0 ? '/' : after.slice(slash);
      return {
        functionName: url.functionName,
        qualifier: '',
        auth: url.auth,
        routeKey: '$default',
        template: `${FUNCTION_URL_PREFIX}${url.functionName}/*`,
        pathParameters: {},
        eventPath,
        apiId: url.functionName,
        isFunctionUrl: true,
        routeId: undefined,
      };
    }
    const match = this.deps.routes.table().match(method, rawPath);
    if (match.kind === 'none') return undefined;
    const { route } = match;
    return {
      functionName: route.functionName,
      qualifier: route.qualifier ?? '',
      auth: route.auth,
      routeKey: route.routeKey,
      template: route.path,
      pathParameters: match.pathParameters,
      eventPath: rawPath,
      apiId: ROUTES_API_ID,
      isFunctionUrl: false,
      routeId: route.id,
    };
  }

  /** The caller of a `token` endpoint, undefined for a public one, or why the request may not proceed. */
  private async caller(req: IncomingMessage, target: Target): Promise<Principal | undefined | string> {
    const auth = target.auth;
    switch (auth) {
      case 'none':
        return undefined;
      case 'token': {
        const token = parseBearer(req.headers.authorization);
        if (!token) return 'this endpoint needs an API token: send Authorization: Bearer <token>';
        return this.deps.auth.authenticate(token).catch((err: unknown) => toStratusError(err).message);
      }
      default: {
        const unknown: never = auth;
        return `unknown auth mode ${String(unknown)}`;
      }
    }
  }

  private write(req: IncomingMessage, res: ServerResponse, response: HttpResponse, requestId: string): void {
    if (res.headersSent || res.destroyed) return;
    // No body on HEAD, 204 and 304, whatever the function returned.
    const bodyless = req.method === 'HEAD' || response.statusCode === 204 || response.statusCode === 304;
    const flat: string[] = [];
    for (const [name, value] of response.headers) flat.push(name, value);
    flat.push('apigw-requestid', requestId);
    if (!bodyless) flat.push('content-length', String(response.body.length));
    try {
      res.writeHead(response.statusCode, flat);
    } catch (err) {
      // Header checks in the response mapping should make this unreachable; never crash on it.
      this.deps.logger.warn('HTTP response headers rejected', { err: toStratusError(err) });
      const fallback = Buffer.from(JSON.stringify({ message: 'Internal Server Error', reason: 'the function returned headers HTTP cannot carry', requestId }));
      res.writeHead(502, ['content-type', 'application/json', 'content-length', String(fallback.length), 'apigw-requestid', requestId]);
      res.end(fallback);
      return;
    }
    res.end(bodyless ? undefined : response.body);
  }
}

/** Raw headers without Authorization: a token the gateway checked is a platform credential, not the function's business. */
function withoutAuthorization(rawHeaders: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() !== 'authorization') out.push(rawHeaders[i] as string, rawHeaders[i + 1] as string);
  }
  return out;
}
