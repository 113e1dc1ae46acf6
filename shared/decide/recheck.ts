import type { PairConfig } from '../config/schema.ts';
import { type Decision, isMove } from '../domain/plan.ts';

/**
 * Pause between an evaluation that first sees the active member's probe fail and the re-check that confirms
 * it. The probe's own round trip already parts the two readings: a Run Command probe takes about 1-4 s from
 * SendCommand to a result the controller sees (the command becomes visible in 0.2-1 s, is delivered in
 * 0.3-1.5 s, runs in 0.3-1.5 s, and is polled once a second), so with this pause the second probe's script
 * runs at least 1.5 s, and typically 3-5 s, after the first. That filters a daemon caught mid-restart, while two
 * readings still fit in the time fast mode has to fail over (15 s from the fault at the 95th percentile).
 */
export const RECHECK_DELAY_MS = 1_000;

/**
 * How soon the controller should evaluate the pair again, within the same invocation, to confirm a soft
 * failure of the member carrying traffic; undefined when no quick re-check is wanted. Wanted when the active
 * member's daemon probe failed in this evaluation and its unhealthy streak is short of `unhealthyThreshold`,
 * so the confirmation comes seconds later instead of at the next scheduled evaluation. Only the probe is
 * re-checked: it is read afresh at every evaluation, whereas the tunnel metric's datapoints are a period wide,
 * so reading them again seconds later would count one datapoint twice.
 */
export function recheckAfterMs(pair: PairConfig, decision: Decision): number | undefined {
  if (isMove(decision.plan)) return undefined;
  const active = decision.memory.active;
  const streak = decision.memory.unhealthyStreak[active].daemon;
  const failed = decision.verdicts[active].signals.daemon?.health === 'unhealthy';
  return failed && streak > 0 && streak < pair.unhealthyThreshold ? RECHECK_DELAY_MS : undefined;
}
