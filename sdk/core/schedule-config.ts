import { StratusError } from './errors';

/** What a schedule does with ticks that passed while no router ran: fire the latest once, late, or skip them. */
export type MissedTicksPolicy = 'fire-once' | 'skip';

/** Every policy, default first. */
export const MISSED_TICKS_POLICIES: readonly MissedTicksPolicy[] = ['fire-once', 'skip'];

/** Validates a policy name from a user; undefined or empty gives the default. */
export function parseMissedTicks(value: string | undefined): MissedTicksPolicy {
  if (!value) return 'fire-once';
  const found = MISSED_TICKS_POLICIES.find((p) => p === value);
  if (!found) throw new StratusError('InvalidRequest', `missed-ticks policy '${value}': use ${MISSED_TICKS_POLICIES.join(' or ')}`);
  return found;
}

/** What a schedule is, as its creator defined it: the same on server and client, which each add their time and state fields. */
export interface ScheduleDefinition {
  id: string;
  functionName: string;
  /** As the user wrote it: `rate(5 minutes)`, `cron(0 12 * * ? *)` or five cron fields. */
  expression: string;
  /** IANA time zone of cron expressions; empty means UTC. */
  timezone: string;
  /** Payload template; empty: EventBridge's Scheduled Event. */
  payload: string;
  missedTicks: MissedTicksPolicy;
  /** The version or alias its ticks run; absent or empty: $LATEST. */
  qualifier?: string;
}
