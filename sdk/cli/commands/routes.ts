import type { Command } from 'commander';
import type { FunctionUrlInfo, RouteInfo } from '../../client/route-types';
import { parseRouteAuth } from '../../core/wire/route-codec';
import type { CliContext } from '../context';

type Run = (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>;

/** A route as printed by --json: the domain record with a readable time. */
function routeJson(r: RouteInfo): Record<string, unknown> {
  return { ...r, created: new Date(r.createdMs).toISOString() };
}

function urlJson(u: FunctionUrlInfo): Record<string, unknown> {
  return { ...u, created: new Date(u.createdMs).toISOString() };
}

/** `stratus routes add|ls|rm`: HTTP routes served on every router's HTTP port. */
export function registerRouteCommands(program: Command, run: Run): void {
  const routes = program.command('routes').description("map HTTP routes on the routers' HTTP port to functions (API Gateway payload format 2.0)");
  routes
    .command('add <method> <path> <function>')
    .description("add a route: METHOD is GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY; path like /users/{id} or /{proxy+}, or '$default'")
    .option('--auth <mode>', 'none (anyone) or token (Authorization: Bearer <API token>)', 'none')
    .option('--qualifier <version|alias>', 'the version or alias it invokes (default $LATEST)')
    .action((method: string, path: string, fn: string, flags: { auth: string; qualifier?: string }) =>
      run(async ({ out, client }) => {
        const route = await (await client()).createRoute(method, path, fn, { auth: parseRouteAuth(flags.auth), qualifier: flags.qualifier });
        if (out.json) return out.printJson(routeJson(route));
        out.line(`${route.routeKey} → ${route.functionName}${route.qualifier ? `:${route.qualifier}` : ''} (id ${route.id}, auth ${route.auth})`);
      }),
    );
  routes
    .command('ls')
    .description('list routes in the order requests are matched, then function URLs')
    .action(() =>
      run(async ({ out, client }) => {
        const c = await client();
        const [all, urls] = await Promise.all([c.listRoutes(), c.listFunctionUrls()]);
        if (out.json) return out.printJson({ routes: all.map(routeJson), functionUrls: urls.map(urlJson) });
        if (all.length === 0 && urls.length === 0) return out.note('no routes yet: add one with stratus routes add GET /hello <function>, or give a function a URL with stratus url <function>');
        if (all.length > 0) {
          out.printTable(['ID', 'ROUTE', 'FUNCTION', 'AUTH', 'CREATED'], all.map((r) => [r.id, r.routeKey, r.functionName, r.auth, new Date(r.createdMs).toISOString()]));
        }
        if (urls.length > 0) out.printTable(['FUNCTION URL', 'AUTH', 'URL'], urls.map((u) => [u.functionName, u.auth, u.url || u.path]));
      }),
    );
  routes
    .command('rm <id>')
    .description('remove a route (its id is in stratus routes ls)')
    .action((id: string) =>
      run(async ({ out, client }) => {
        await (await client()).deleteRoute(id);
        if (out.json) return out.printJson({ deleted: id });
        out.line(`removed route ${id}`);
      }),
    );
}

/** `stratus url <function>`: give a function its own URL, change its auth, or remove it. */
export function registerUrlCommand(program: Command, run: Run): void {
  program
    .command('url <function>')
    .description("give a function its own URL, /fn/<function>/… on every router's HTTP port, and print it")
    .option('--auth <mode>', 'none (anyone) or token (Authorization: Bearer <API token>); a new URL defaults to token')
    .option('--delete', 'remove the URL instead')
    .action((fn: string, flags: { auth?: string; delete?: boolean }) =>
      run(async ({ out, client }) => {
        const c = await client();
        if (flags.delete) {
          await c.deleteFunctionUrl(fn);
          if (out.json) return out.printJson({ deleted: fn });
          return out.line(`removed the URL of ${fn}`);
        }
        const url = await c.putFunctionUrl(fn, { auth: flags.auth === undefined ? undefined : parseRouteAuth(flags.auth) });
        if (out.json) return out.printJson(urlJson(url));
        // The URL alone on stdout, so scripts can capture it; how to call it on stderr.
        out.line(url.url || url.path);
        out.note(url.auth === 'token' ? 'auth token: send Authorization: Bearer <API token> (open it to anyone with --auth none)' : 'auth none: anyone can call it');
      }),
    );
}
