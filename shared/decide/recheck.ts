import type { PairConfig } from '../config/schema.ts';
import { type Decision, isMove } from '../domain/plan.ts';
import { OS_LOST_AFTER } from './silence.ts';

/**
 * How far apart, at least, the evaluation that first sees the active member fail and the re-check that
 * confirms it start. Long enough that a daemon restart is not read as failed twice: the daemon is back within
 * a second or two, but its CHILD SAs only once IKE has negotiated them again, which takes up to about 20 s
 * over a WAN (the simulated account assumes 5-20 s, sim/latency.ts world.tunnelEstablish), and the two probe
 * scripts run up to a couple of seconds later or earlier than their evaluations start (SSM's delivery,
 * 0.3-1.5 s, after the command becomes visible, 0.2-1 s). Short enough that in economy mode the confirmation
 * comes within the same minute instead of at the next one: a daemon that died is moved off within about
 * 90 s at the 95th percentile, not two minutes. In fast mode at its default 10 s interval the next slot
 * comes first, so the grid confirms.
 */
export const RECHECK_SPACING_MS = 23_000;

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
