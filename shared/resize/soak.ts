import type { PairConfig } from '../config/schema.ts';
import type { Verdict } from '../domain/plan.ts';
import type { Role } from '../domain/types.ts';
import { SOAK_GRACE_SECONDS } from './policy.ts';
import type { Poll } from './types.ts';

/** What one soak check saw of the resized member that now carries traffic. */
export interface SoakReading {
  readonly pair: PairConfig;
  readonly role: Role;
  readonly verdict: Verdict;
  /** undefined when the route tables could not be read */
  readonly carriesTraffic: boolean | undefined;
  readonly poll: Poll;
  /** epoch ms */
  readonly now: number;
}

/**
 * Judge one soak check (pure). A hard loss fails the soak at once; soft failures, or traffic found elsewhere,
 * after the pair's unhealthyThreshold consecutive checks, as the controller would judge them; the soak ends on a
 * positively healthy reading with the traffic after the soak time, and fails if none comes within the grace.
 */
export function judgeSoak(reading: SoakReading): { readonly next: Poll } | { readonly failure: string } {
  const { pair, role, verdict, carriesTraffic, poll, now } = reading;
  const member = `${role} ${pair[role].instanceId}`;
  const soakUntil = poll.soakUntil ?? now;
  if (verdict.health === 'unhealthy' && verdict.hard) {
    return { failure: `${member} failed during the soak: ${verdict.reason}` };
  }
  const bad = verdict.health === 'unhealthy' || carriesTraffic === false;
  const unhealthyStreak = bad ? (poll.unhealthyStreak ?? 0) + 1 : 0;
  const why =
    verdict.health !== 'unhealthy' && carriesTraffic === false ? `traffic is not on ${role}` : verdict.reason;
  if (unhealthyStreak >= pair.unhealthyThreshold) {
    return { failure: `${member} unhealthy on ${unhealthyStreak} soak checks in a row: ${why}` };
  }
  const done = now >= soakUntil && verdict.health === 'healthy' && carriesTraffic === true;
  if (!done && now >= soakUntil + SOAK_GRACE_SECONDS * 1000) {
    return { failure: `${member} was not confirmed healthy by the end of the soak: ${why}` };
  }
  return {
    next: {
      attempt: poll.attempt + 1,
      done,
      soakUntil,
      unhealthyStreak,
      detail: `${role} ${verdict.health}${carriesTraffic ? '' : ', traffic not confirmed'}`,
    },
  };
}
