import type { Outcome } from './outcome.ts';
import { conclude } from './step-conclude.ts';
import {
  checkHealthy,
  checkStopped,
  type InspectResult,
  type InstanceStepResult,
  inspect,
  modifyMember,
  startMember,
  stopMember,
} from './step-instance.ts';
import { preflight } from './step-preflight.ts';
import type { ResizeDeps } from './step-reads.ts';
import { failBack, failOverToResized, rollBack, soak } from './step-traffic.ts';
import type { Poll, ResizeContext, StepEvent } from './types.ts';

/**
 * The resize workflow's steps: each one short, idempotent and safe to retry, called by the one resize Lambda
 * (functions/resize/handler.ts) with the step the state machine names. Steps never wait for an instance:
 * waiting is the state machine's Wait states, and a step that polls returns the next Poll or raises a typed error
 * once its bound is hit. The only waits inside a step are the controller's own (the daemon probe's answer, the
 * route read-back), bounded by seconds.
 *
 * The steps are in ./step-preflight.ts, ./step-instance.ts, ./step-traffic.ts and ./step-conclude.ts.
 */

/** What a step returns, by step. */
export type StepResult =
  | ResizeContext
  | Poll
  | InstanceStepResult
  | InspectResult
  | Outcome
  | Record<string, never>;

/** Run one step. */
export async function runStep(deps: ResizeDeps, event: StepEvent): Promise<StepResult> {
  switch (event.step) {
    case 'preflight':
      return preflight(deps, event.request, event.execution);
    case 'stop':
      return stopMember(deps, event.ctx, event.stage);
    case 'checkStopped':
      return checkStopped(deps, event.ctx, event.stage, event.poll);
    case 'modify':
      return modifyMember(deps, event.ctx, event.stage, event.to);
    case 'start':
      return startMember(deps, event.ctx, event.stage);
    case 'checkHealthy':
      return checkHealthy(deps, event.ctx, event.stage, event.poll);
    case 'failover':
      return failOverToResized(deps, event.ctx);
    case 'soak':
      return soak(deps, event.ctx, event.poll);
    case 'rollback':
      return rollBack(deps, event.ctx);
    case 'inspect':
      return inspect(deps, event.ctx, event.stage);
    case 'failback':
      return failBack(deps, event.ctx);
    case 'conclude':
      return conclude(deps, event);
  }
}
