import type { Command } from 'commander';
import type { ScheduleInfo } from '../../client/event-source-types';
import { parseMissedTicks } from '../../core/schedule-config';
import type { CliContext } from '../context';

type Run = (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>;

function toJson(s: ScheduleInfo): Record<string, unknown> {
  return { ...s, created: s.created.toISOString(), lastTick: s.lastTick?.toISOString() ?? null, nextTick: s.nextTick?.toISOString() ?? null };
}

/** `stratus schedules add|ls|rm`: functions invoked on cron and rate expressions. */
export function registerScheduleCommands(program: Command, run: Run): void {
  const schedules = program.command('schedules').description('invoke functions on a schedule (cron or rate), exactly once per tick across routers');
  schedules
    .command('add <function> <expression>')
    .description("add a schedule: 'rate(5 minutes)', 'cron(0 12 * * ? *)' (EventBridge) or '*/5 * * * *'")
    .option('--payload <json>', 'the event; $time, $epochMs and $schedule are replaced at each tick (default: an EventBridge Scheduled Event)')
    .option('--tz <zone>', 'IANA time zone for cron expressions (default UTC)')
    .option('--qualifier <version|alias>', 'the version or alias its ticks run (default $LATEST)')
    .option('--missed <policy>', 'ticks missed while no router ran: fire-once (the latest, late) or skip', 'fire-once')
    .action((fn: string, expression: string, flags: { payload?: string; tz?: string; missed: string; qualifier?: string }) =>
      run(async ({ out, client }) => {
        const s = await (await client()).createSchedule(fn, expression, { payload: flags.payload, timezone: flags.tz, missedTicks: parseMissedTicks(flags.missed), qualifier: flags.qualifier });
        if (out.json) return out.printJson(toJson(s));
        out.line(`${s.expression}${s.timezone ? ` (${s.timezone})` : ''} → ${s.functionName} (id ${s.id}; next tick ${s.nextTick?.toISOString() ?? 'none'})`);
      }),
    );
  schedules
    .command('ls [function]')
    .description("list schedules (all, or one function's)")
    .action((fn: string | undefined) =>
      run(async ({ out, client }) => {
        const all = await (await client()).listSchedules(fn ?? '');
        if (out.json) return out.printJson(all.map(toJson));
        if (all.length === 0) return out.note("no schedules: add one with stratus schedules add <function> 'rate(5 minutes)'");
        out.printTable(
          ['ID', 'FUNCTION', 'EXPRESSION', 'TZ', 'MISSED', 'LAST TICK', 'NEXT TICK'],
          all.map((s) => [s.id, s.functionName, s.expression, s.timezone || 'UTC', s.missedTicks, s.lastTick?.toISOString() ?? '-', s.nextTick?.toISOString() ?? '-']),
        );
      }),
    );
  schedules
    .command('rm <id>')
    .description('delete a schedule')
    .action((id: string) =>
      run(async ({ out, client }) => {
        await (await client()).deleteSchedule(id);
        if (out.json) return out.printJson({ deleted: id });
        out.line(`deleted schedule ${id}`);
      }),
    );
}
