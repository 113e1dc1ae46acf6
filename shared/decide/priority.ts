import type { Decision } from '../domain/plan.ts';
import { isMove } from '../domain/plan.ts';

/**
 * The order in which a run spends its write budget, most urgent first. A repair away from a member that is
 * lost finishes an interrupted failover whose remaining routes drop traffic, so it counts as a hard loss.
 */
export const WRITE_PRIORITY = {
  'hard-loss': 0,
  'scheduled-event': 1,
  'soft-failure': 2,
  manual: 2,
  'automatic-failback': 3,
  repair: 4,
} as const;

/** Where a move stands in the run's write budget. */
export function writePriority(decision: Decision): number {
  const { plan } = decision;
  if (!isMove(plan)) return WRITE_PRIORITY.repair;
  if (plan.kind === 'repair-routes') {
    return decision.verdicts[plan.from].hard ? WRITE_PRIORITY['hard-loss'] : WRITE_PRIORITY.repair;
  }
  return WRITE_PRIORITY[plan.trigger];
}
