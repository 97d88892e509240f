import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import type { FunctionSettings } from '../../client/types';
import { StratusError } from '../../core/errors';
import type { AsyncConfig, Destination } from '../../core/function-config';
import type { LogFormat, LoggingConfig, LogLevel } from '../../core/function-logs';
import type { CliContext } from '../context';
import { humanBytes } from '../output';

interface DeployFlags {
  runtime?: string;
  handler?: string;
  memory?: string;
  timeout?: string;
  env?: string[];
  description?: string;
  reservedConcurrency?: string;
  maxRetries?: string;
  maxEventAge?: string;
  onSuccess?: string;
  onFailure?: string;
  layer?: string[];
  network?: boolean;
  role?: string;
  recursiveLoop?: string;
  logFormat?: string;
  appLogLevel?: string;
  systemLogLevel?: string;
  logRetentionDays?: string;
  logMaxMb?: string;
  publish?: boolean;
}

/** `subject:orders.done` or `function:audit` → a Destination. */
function parseDestination(flag: string, value: string | undefined): Destination | undefined {
  if (value === undefined) return undefined;
  const colon = value.indexOf(':');
  const kind = value.slice(0, colon);
  if (colon <= 0 || (kind !== 'subject' && kind !== 'function')) {
    throw new StratusError('InvalidRequest', `${flag} ${value}: write subject:<subject> or function:<name>`);
  }
  return { kind, target: value.slice(colon + 1) };
}

function parseEnv(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new StratusError('InvalidRequest', `--env ${pair}: write it as KEY=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

function parseInteger(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new StratusError('InvalidRequest', `${flag} ${value}: give a whole number`);
  return n;
}

/** `stratus deploy <name> <folder|zip|tar.gz>`: creates or updates a function, with a progress bar for the upload. */
export function registerDeployCommand(program: Command, run: (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>): void {
  program
    .command('deploy <name> <source>')
    .description('create or update a function from a folder, a .zip or a .tar.gz')
    .option('--runtime <runtime>', 'nodejs, python or provided (Lambda names like nodejs20.x work); needed for a new function')
    .option('--handler <handler>', 'file.function, e.g. index.handler')
    .option('--memory <mb>', 'memory in MB (128-10240, default 128)')
    .option('--timeout <seconds>', 'timeout in seconds (1-900, default 3)')
    .option('--env <KEY=VALUE...>', 'environment variables (repeat or list several)')
    .option('--description <text>', 'a description')
    .option('--no-network', 'cut the function off the network (it keeps its Runtime API)')
    .option('--layer <name:version...>', 'layers to unpack into /opt, in order (repeat for several)')
    .option('--reserved-concurrency <n>', 'instances reserved for (and the most allowed to) this function; 0 stops it')
    .option('--max-retries <n>', 'async: retries after a function error, 0-2 (default 2)')
    .option('--max-event-age <seconds>', 'async: how old an event may get before it is given up, 60-21600 (default 21600)')
    .option('--on-success <destination>', 'async: where success records go: subject:<subject> or function:<name>')
    .option('--on-failure <destination>', 'async: where failure records go (default: the dead-letter stream)')
    .option('--role <name>', 'execution role: what the function may do through the platform (stratus roles put); none: nothing')
    .option('--recursive-loop <mode>', 'Terminate (default: stop chains of functions invoking each other at the recursion limit) or Allow')
    .option('--log-format <format>', 'Text (default: tab-separated lines) or JSON (one object per line, with levels)')
    .option('--app-log-level <level>', "JSON logs: the lowest level of the function's own lines kept (TRACE, DEBUG, INFO, WARN, ERROR, FATAL)")
    .option('--system-log-level <level>', 'JSON logs: the lowest level of platform lines kept (DEBUG, INFO, WARN; START/END/REPORT are INFO)')
    .option('--log-retention-days <days>', "days the function's log stream keeps lines (default: the cluster's, STRATUS_LOG_RETENTION_DAYS)")
    .option('--publish', 'publish a version of what was deployed (stratus versions publish)')
    .option('--log-max-mb <mb>', "MB the function's log stream keeps before the oldest lines go (default: the cluster's, STRATUS_LOG_MAX_MB)")
    .action((name: string, source: string, flags: DeployFlags) =>
      run(async ({ out, client }) => {
        const settings: FunctionSettings & { runtime?: string } = {
          runtime: flags.runtime,
          handler: flags.handler,
          memoryMb: parseInteger('--memory', flags.memory),
          timeoutSeconds: parseInteger('--timeout', flags.timeout),
          environment: parseEnv(flags.env),
          description: flags.description,
          reservedConcurrency: parseInteger('--reserved-concurrency', flags.reservedConcurrency),
          layers: flags.layer,
          networkDisabled: flags.network === false ? true : undefined,
          role: flags.role,
          recursiveLoop: flags.recursiveLoop as FunctionSettings['recursiveLoop'],
        };
        const logging = {
          format: flags.logFormat === undefined ? undefined : (flags.logFormat.toLowerCase() === 'json' ? 'JSON' : flags.logFormat.toLowerCase() === 'text' ? 'Text' : flags.logFormat) as LogFormat,
          applicationLogLevel: flags.appLogLevel?.toUpperCase() as LogLevel | undefined,
          systemLogLevel: flags.systemLogLevel?.toUpperCase() as LoggingConfig['systemLogLevel'],
          retentionDays: parseInteger('--log-retention-days', flags.logRetentionDays),
          maxMb: parseInteger('--log-max-mb', flags.logMaxMb),
        };
        if (Object.values(logging).some((v) => v !== undefined)) settings.logging = logging;
        const asyncSettings: Partial<AsyncConfig> = {
          maxRetryAttempts: parseInteger('--max-retries', flags.maxRetries),
          maxEventAgeSeconds: parseInteger('--max-event-age', flags.maxEventAge),
          onSuccess: parseDestination('--on-success', flags.onSuccess),
          onFailure: parseDestination('--on-failure', flags.onFailure),
        };
        if (Object.values(asyncSettings).some((v) => v !== undefined)) settings.async = asyncSettings;
        const showBar = !out.json && process.stderr.isTTY;
        const bar = showBar ? new SingleBar({ format: 'uploading {bar} {percentage}% | {value}/{total} bytes', stream: process.stderr }) : undefined;
        let started = false;
        const result = await (await client()).deploy({
          name,
          source,
          settings,
          onProgress: (sent, total) => {
            if (!bar) return;
            if (!started) {
              bar.start(total, 0);
              started = true;
            }
            bar.update(sent);
          },
        });
        bar?.stop();
        const f = result.function;
        // Guarded by the code just deployed: a deploy that raced this one is not published by mistake.
        const published = flags.publish ? await (await client()).versions.publish(name, { codeSha256: f.code.sha256 }) : undefined;
        if (out.json) return out.printJson({ created: result.created, codeChanged: result.codeChanged, name: f.config.name, revisionId: f.revisionId, code: f.code, ...(published ? { version: published.version } : {}) });
        const what = result.created ? 'created' : result.codeChanged ? 'updated code' : 'code unchanged';
        out.line(`${f.config.name}: ${what} — ${f.config.runtime} ${f.config.handler}, ${f.config.memoryMb} MB, ${f.config.timeoutSeconds} s, bundle ${humanBytes(f.code.size)}${published ? `; published version ${published.version}` : ''}`);
      }),
    );
}
