import { MissedTicks } from '../../../proto/gen/stratus/v1/schedules';
import type { MissedTicksPolicy } from '../schedule-config';

/** Domain policy → wire enum. */
export function missedTicksToPb(policy: MissedTicksPolicy | undefined): MissedTicks {
  switch (policy) {
    case undefined:
      return MissedTicks.MISSED_TICKS_UNSPECIFIED;
    case 'fire-once':
      return MissedTicks.MISSED_TICKS_FIRE_ONCE;
    case 'skip':
      return MissedTicks.MISSED_TICKS_SKIP;
    default: {
      const unreachable: never = policy;
      return unreachable;
    }
  }
}

/** Wire enum → domain policy; unspecified means the default (fire-once). */
export function missedTicksFromPb(pb: MissedTicks): MissedTicksPolicy {
  switch (pb) {
    case MissedTicks.MISSED_TICKS_UNSPECIFIED:
    case MissedTicks.MISSED_TICKS_FIRE_ONCE:
      return 'fire-once';
    case MissedTicks.MISSED_TICKS_SKIP:
      return 'skip';
    default: {
      const unreachable: never = pb;
      return unreachable;
    }
  }
}
