import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { StratusError } from '../../core/errors';
import type { CliContext } from '../context';

/** The console URL of the router `endpoint` (host:port of its gRPC API) reaches, from the cluster's router list. */
export function consoleUrl(endpoint: string, tls: boolean, routers: Array<{ address: string; httpPort: number; routerId: string }>, answering: string): string {
  const host = endpoint.replace(/:\d+$/, '');
  const router = routers.find((r) => r.routerId === answering) ?? routers[0];
  if (!router || router.httpPort < 0) throw new StratusError('ServiceUnavailable', 'the router serves no HTTP port (STRATUS_HTTP_PORT=-1): the console needs one');
  return `${tls ? 'https' : 'http'}://${host}:${router.httpPort}/console`;
}

/** `stratus console`: prints the web console's URL and opens it in a browser when there is one. */
export function registerConsoleCommand(program: Command, run: (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>): void {
  program
    .command('console')
    .description('open the web console (functions, logs, invocations, dead letters, cluster) in a browser')
    .option('--no-open', 'only print the URL')
    .action((flags: { open: boolean }) =>
      run(async ({ out, client, target, env }) => {
        const { endpoint, tls } = await target();
        const cluster = await (await client()).getCluster();
        const url = consoleUrl(endpoint, tls, cluster.routers, cluster.routerId);
        if (out.json) return out.printJson({ url });
        out.line(url);
        out.note('log in with an API token: the one in your profile (stratus dev wrote it), or one from stratus auth create-token');
        const graphical = Boolean(env.DISPLAY || env.WAYLAND_DISPLAY) || process.platform === 'darwin';
        if (flags.open && graphical) {
          const opener = spawn(process.platform === 'darwin' ? 'open' : 'xdg-open', [url], { detached: true, stdio: 'ignore' });
          opener.on('error', () => out.note('could not open a browser: open the URL above'));
          opener.unref();
        }
      }),
    );
}
