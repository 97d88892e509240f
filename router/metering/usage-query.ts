import type { JetStreamManager } from '@nats-io/jetstream';
import { viaNats } from '../../sdk/platform/nats-errors';
import { STREAMS, usageSubject } from '../../sdk/platform/nats-layout';
import { decodeUsageMessage } from './usage-recorder';
import { UsageTally, type PriceTable, type TenantUsage } from '../../sdk/core/usage';

/**
 * Adds up a month's usage from the STRATUS_USAGE stream: every stored message of the month's
 * subject for one tenant (or all), read by subject with direct gets, so any router answers.
 */
export async function readUsage(jsm: JetStreamManager, month: string, tenant: string | undefined, prices: PriceTable): Promise<TenantUsage[]> {
  const subject = usageSubject(month, tenant ?? '*');
  const tally = new UsageTally();
  for (let seq = 1; ; ) {
    const m = await viaNats('reading usage records', () => jsm.direct.getMessage(STREAMS.usage, { next_by_subj: subject, seq }));
    if (!m) break;
    for (const r of decodeUsageMessage(m.subject, m.data)) tally.add(r);
    seq = m.seq + 1;
  }
  return tally.result(prices);
}
