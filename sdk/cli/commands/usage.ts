import type { Command } from 'commander';
import type { CliContext } from '../context';

function money(n: number, currency: string): string {
  return `${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 6 : 2)} ${currency}`;
}

function gbs(n: number): string {
  return n.toFixed(n < 10 ? 4 : 1);
}

/** `stratus usage`: a month's metered use and its cost, per tenant and function. */
export function registerUsageCommand(program: Command, run: (action: (ctx: CliContext) => Promise<number | void>) => Promise<void>): void {
  program
    .command('usage')
    .description("a month's requests, billed duration, GB-seconds and cost (after the free tier)")
    .option('--month <YYYY-MM>', 'the month, UTC (default: this one)')
    .option('--tenant <tenant>', 'one tenant (default: yours; administrators see every tenant)')
    .action((flags: { month?: string; tenant?: string }) =>
      run(async ({ out, client }) => {
        const report = await (await client()).usage.get({ month: flags.month, tenant: flags.tenant });
        if (out.json) return out.printJson(report);
        if (report.tenants.length === 0) return out.note(`no invocations were metered in ${report.month}`);
        const rows: Array<Array<string | number>> = [];
        for (const t of report.tenants) {
          for (const f of t.functions) rows.push([t.tenant, f.functionName, f.requests, f.billedDurationMs, gbs(f.gbSeconds)]);
        }
        out.printTable(['TENANT', 'FUNCTION', 'REQUESTS', 'BILLED MS', 'GB-S'], rows);
        const p = report.prices;
        out.printTable(
          ['TENANT', 'REQUESTS', 'GB-S', 'FREE REQUESTS', 'FREE GB-S', 'REQUEST COST', 'COMPUTE COST', 'TOTAL'],
          report.tenants.map((t) => [t.tenant, t.requests, gbs(t.gbSeconds), t.cost.freeRequestsUsed, gbs(t.cost.freeGbSecondsUsed), money(t.cost.requests, p.currency), money(t.cost.compute, p.currency), money(t.cost.total, p.currency)]),
        );
        out.note(`${report.month}: ${p.perMillionRequests} ${p.currency} per million requests, ${p.perGbSecond} ${p.currency} per GB-second, ${p.freeRequests} requests and ${p.freeGbSeconds} GB-s free per tenant each month`);
      }),
    );
}
