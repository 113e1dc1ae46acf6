import type { PairConfig } from '../config/schema.ts';
import { type Decision, isMove } from '../domain/plan.ts';
import { OS_LOST_AFTER } from './silence.ts';

/**
 * How far apart, at least, the evaluation that first sees the active member fail and the re-check that
 * confirms it start. A Run Command probe takes about 1-4 s from SendCommand to a result the controller sees
 * (in the simulated account's model, sim/latency.ts: the command becomes visible in 0.2-1 s, is delivered in
 * 0.3-1.5 s and runs in 0.3-1.5 s, and the controller polls for it), so an evaluation mostly lasts longer than
 * this and the re-check follows it at once; when the probe came back quickly, the re-check waits, so the two
 * probe scripts run about 2 s apart or more: a daemon caught mid-restart (a second or so) is not read as
 * failed twice. Any longer and two readings no longer fit in the time fast mode has to fail over (15 s from
 * the fault at the 95th percentile, of which the wait for the next 10 s slot takes up to 10).
 */
export const RECHECK_SPACING_MS = 2_000;

/**
 * How long after the start of this evaluation the controller should evaluate the pair again, within the same
 * invocation, to confirm a failure of the member carrying traffic; undefined when no quick re-check is wanted.
 * Wanted when the confirmation would otherwise wait for the next scheduled evaluation:
 * - the active member's daemon probe failed and its unhealthy streak is short of `unhealthyThreshold`;
 * - the active member's probe was silent while its partner answered (and got no ping reply from it), short of
 *   the OS_LOST_AFTER evaluations that make its OS count as lost.
 * Only probe-based evidence is re-checked: the probe is read afresh at every evaluation, whereas the tunnel
 * metric's datapoints are a period wide, so reading them again seconds later would count one datapoint twice.
 */
export function recheckAfterMs(pair: PairConfig, decision: Decision): number | undefined {
  if (isMove(decision.plan)) return undefined;
  const active = decision.memory.active;
  const streak = decision.memory.unhealthyStreak[active].daemon;
  const failed = decision.verdicts[active].signals.daemon?.health === 'unhealthy';
  const silent = decision.memory.silenceStreak?.[active] ?? 0;
  const confirming =
    (failed && streak > 0 && streak < pair.unhealthyThreshold) || (silent > 0 && silent < OS_LOST_AFTER);
  return confirming ? RECHECK_SPACING_MS : undefined;
}
