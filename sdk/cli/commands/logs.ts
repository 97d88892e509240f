import type { Command } from 'commander';
import { formatLogEntry, parseSince } from '../../core/function-logs';
import { parseStatuses, parseTrigger, type InvocationRecord } from '../../core/invocation-record';
import { StratusError } from '../../core/errors';
import type { CliContext } from '../context';

type Run = (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>;

function parseCount(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new StratusError('InvalidRequest', `${flag} ${value}: give a whole number of at least 1`);
  return n;
}

function ms(n: number | undefined): string {
  return n === undefined ? '-' : n < 10 ? n.toFixed(2) : n.toFixed(0);
}

/** `stratus logs <fn>`: a function's log lines, optionally followed as they are written. */
export function registerLogsCommand(program: Command, run: Run): void {
  program
    .command('logs <function>')
    .description("a function's log lines (stdout, stderr, START / END / REPORT), from its log stream")
    .option('-f, --follow', 'keep printing new lines as they are written (Ctrl-C stops)')
    .option('--since <time>', 'from this long ago (90s, 10m, 2h, 3d) or this date (default: 1h, or now with --follow)')
    .option('--until <time>', 'up to this time (same forms)')
    .option('--request-id <id>', "only this invocation's lines")
    .option('--filter <text>', 'only lines containing this text (case-insensitive)')
    .option('--limit <n>', 'only the newest n lines (without --follow)')
    .action((fn: string, flags: { follow?: boolean; since?: string; until?: string; requestId?: string; filter?: string; limit?: string }) =>
      run(async ({ out, client }) => {
        const now = Date.now();
        const since = flags.since ? parseSince(flags.since, now) : flags.follow ? now : now - 3_600_000;
        const until = flags.until ? parseSince(flags.until, now) : 0;
        const controller = new AbortController();
        const stop = (): void => controller.abort();
        process.once('SIGINT', stop);
        let count = 0;
        try {
          for await (const e of (await client()).logs(fn, { since, until, follow: flags.follow, requestId: flags.requestId, filter: flags.filter, limit: parseCount('--limit', flags.limit), signal: controller.signal })) {
            count += 1;
            // One JSON object per line (NDJSON), so a script can read a followed stream as it comes.
            if (out.json) process.stdout.write(`${JSON.stringify(e)}\n`);
            else out.line(formatLogEntry(e));
          }
        } finally {
          process.removeListener('SIGINT', stop);
        }
        if (count === 0 && !flags.follow && !out.json) out.note(`no lines from '${fn}' in that time: widen it with --since (e.g. --since 1d), or follow new ones with --follow`);
      }),
    );
}

function recordRow(r: InvocationRecord): Array<string | number> {
  return [new Date(r.startMs).toISOString(), r.requestId, r.trigger, r.status + (r.errorType && r.status !== 'Success' ? ` (${r.errorType})` : ''), ms(r.durationMs), r.coldStart ? `cold ${ms(r.initDurationMs)}` : 'warm', r.billedDurationMs, `${r.maxMemoryUsedMb}/${r.memoryMb}`, r.agentId || '-'];
}

/** `stratus invocations <fn>` and `stratus invocations show <id>`: invocation records. */
export function registerInvocationCommands(program: Command, run: Run): void {
  const inv = program.command('invocations').description('invocation records: what each invocation did, from any entry point');
  inv
    .command('list <function>', { isDefault: true })
    .description("a function's recent invocations, newest first (also: stratus invocations <function>)")
    .option('--since <time>', 'from this long ago (90s, 10m, 2h, 3d) or this date (default: 1h)')
    .option('--until <time>', 'up to this time')
    .option('--errors', 'only invocations that did not succeed (Error, Timeout, Throttled, Failed)')
    .option('--status <status...>', 'only these statuses: Success, Error, Timeout, Throttled, Failed')
    .option('--trigger <trigger>', 'only this entry point: sync, async, http, schedule, trigger, mapping, destination, redrive')
    .option('--limit <n>', 'the newest n (default 100)')
    .action((fn: string, flags: { since?: string; until?: string; errors?: boolean; status?: string[]; trigger?: string; limit?: string }) =>
      run(async ({ out, client }) => {
        const now = Date.now();
        const statuses = flags.errors ? parseStatuses(['Error', 'Timeout', 'Throttled', 'Failed']) : parseStatuses(flags.status ?? []);
        const trigger = parseTrigger(flags.trigger ?? '');
        const res = await (await client()).invocations.list(fn, {
          since: flags.since ? parseSince(flags.since, now) : now - 3_600_000,
          until: flags.until ? parseSince(flags.until, now) : undefined,
          statuses,
          trigger: trigger || undefined,
          limit: parseCount('--limit', flags.limit),
        });
        if (out.json) return out.printJson(res);
        if (res.invocations.length === 0) return out.note(`no invocations of '${fn}' match: widen the time with --since (e.g. --since 1d)`);
        out.printTable(['START', 'REQUEST ID', 'TRIGGER', 'STATUS', 'DURATION MS', 'START TYPE', 'BILLED MS', 'MEMORY MB', 'AGENT'], res.invocations.map(recordRow));
        if (res.truncated) out.note(`more invocations matched: showing the newest ${res.invocations.length}; narrow with --since or raise --limit`);
      }),
    );
  inv
    .command('show <request-id>')
    .description('one invocation: its record and its log lines')
    .option('--function <name>', 'the function it belongs to (a faster search)')
    .option('--since <time>', 'search records from this long ago (default: all kept)')
    .action((id: string, flags: { function?: string; since?: string }) =>
      run(async ({ out, client }) => {
        const { invocation: r, lines } = await (await client()).invocations.get(id, { functionName: flags.function, since: flags.since ? parseSince(flags.since) : undefined });
        if (out.json) return out.printJson({ invocation: r, lines });
        out.printTable(['FIELD', 'VALUE'], [
          ['request id', r.requestId],
          ['function', `${r.functionName} (${r.version})`],
          ['trigger', r.source ? `${r.trigger} ${r.source}` : r.trigger],
          ['start', new Date(r.startMs).toISOString()],
          ['status', r.errorType && r.status !== 'Success' ? `${r.status}: ${r.errorType}` : r.status],
          ...(r.errorMessage ? [['error', r.errorMessage] as [string, string]] : []),
          ['duration', `${ms(r.durationMs)} ms (billed ${r.billedDurationMs} ms)`],
          ['start type', r.coldStart ? `cold, init ${ms(r.initDurationMs)} ms` : 'warm'],
          ['queue wait', `${ms(r.queueWaitMs)} ms`],
          ['memory', `${r.maxMemoryUsedMb} of ${r.memoryMb} MB`],
          ['attempt', r.attempt + 1],
          ['agent', r.agentId || '-'],
        ]);
        for (const e of lines) out.line(formatLogEntry(e));
        if (lines.length === 0) out.note('no log lines are kept for it (the log stream keeps lines for less time than records, or the function wrote none)');
      }),
    );
}
