import { promises as fs } from 'node:fs';
import type { Command } from 'commander';
import { StratusError } from '../../core/errors';
import type { CliContext } from '../context';
import { EXIT } from '../output';

interface InvokeFlags {
  payload?: string;
  payloadFile?: string;
  log?: boolean;
  qualifier?: string;
  timeout?: string;
  async?: boolean;
  requestId?: string;
  dryRun?: boolean;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function payloadFrom(flags: InvokeFlags): Promise<Buffer> {
  if (flags.payload !== undefined && flags.payloadFile !== undefined) {
    throw new StratusError('InvalidRequest', 'give the payload once: --payload or --payload-file, not both');
  }
  if (flags.payload !== undefined) return Buffer.from(flags.payload);
  if (flags.payloadFile !== undefined) {
    return fs.readFile(flags.payloadFile).catch((cause: unknown) => {
      throw new StratusError('InvalidRequest', `cannot read --payload-file ${flags.payloadFile}: ${(cause as Error).message}`, { cause });
    });
  }
  // Piped input is the payload; an interactive terminal means "no payload".
  return process.stdin.isTTY ? Buffer.from('{}') : readStdin();
}

function parsed(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    return payload.toString('utf8');
  }
}

/** `stratus invoke <name>`: prints the result on stdout; a function error goes to stderr with exit code 1. */
export function registerInvokeCommand(program: Command, run: (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>): void {
  program
    .command('invoke <name>')
    .description('invoke a function and print its result')
    .option('--payload <json>', 'the event, as JSON')
    .option('--payload-file <file>', 'read the event from a file (default: stdin when piped)')
    .option('--log', 'print the last 4 KB of the log on stderr')
    .option('--qualifier <version>', 'version or alias (default $LATEST)')
    .option('--timeout <ms>', 'how long to wait for the result, in ms')
    .option('--async', 'enqueue the event and return its request id once it is stored (retried on failure)')
    .option('--request-id <id>', 'with --async: an id that makes enqueueing idempotent')
    .option('--dry-run', 'only check that you may invoke the function and that it exists; nothing runs')
    .action((name: string, flags: InvokeFlags) =>
      run(async ({ out, client }) => {
        if (flags.dryRun) {
          if (flags.async) throw new StratusError('InvalidRequest', '--dry-run and --async do not go together: a dry run runs nothing either way');
          const checked = await (await client()).invoke(name, undefined, { qualifier: flags.qualifier, dryRun: true });
          if (out.json) out.printJson({ statusCode: checked.statusCode, executedVersion: checked.executedVersion });
          else out.line(`${checked.statusCode}: you may invoke ${name} (${checked.executedVersion}); nothing ran`);
          return EXIT.ok;
        }
        const payload = await payloadFrom(flags);
        if (flags.requestId && !flags.async) throw new StratusError('InvalidRequest', '--request-id goes with --async');
        if (flags.async) {
          const accepted = await (await client()).invokeAsync(name, payload, { qualifier: flags.qualifier, requestId: flags.requestId });
          if (out.json) out.printJson(accepted);
          else out.line(accepted.duplicate ? `${accepted.requestId} (already accepted earlier; not enqueued again)` : accepted.requestId);
          return EXIT.ok;
        }
        const timeoutMs = flags.timeout === undefined ? undefined : Number(flags.timeout);
        if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new StratusError('InvalidRequest', `--timeout ${flags.timeout}: give milliseconds, e.g. 5000`);
        const result = await (await client()).invoke(name, payload, { logType: flags.log || out.json ? 'Tail' : 'None', qualifier: flags.qualifier, timeoutMs });
        if (out.json) {
          out.printJson({
            requestId: result.requestId,
            executedVersion: result.executedVersion,
            payload: parsed(result.payload),
            functionError: result.functionError,
            report: result.report,
            logTail: result.logTail,
          });
          return result.functionError ? EXIT.functionError : EXIT.ok;
        }
        if (flags.log && result.logTail) process.stderr.write(result.logTail.endsWith('\n') ? result.logTail : `${result.logTail}\n`);
        if (result.functionError) {
          process.stderr.write(`${JSON.stringify(parsed(result.payload), null, 2)}\n`);
          return EXIT.functionError;
        }
        process.stdout.write(`${result.payload.toString('utf8')}\n`);
        return EXIT.ok;
      }),
    );
}
