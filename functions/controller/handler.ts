import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { parseEvent } from '../../shared/controller/events.ts';
import { createMetrics, publishRunMetrics } from '../../shared/controller/metrics.ts';
import { runController } from '../../shared/controller/run.ts';
import { runScheduled } from '../../shared/controller/scheduled.ts';
import type { ControllerDeps, RunSummary } from '../../shared/controller/types.ts';
import { depsFromEnvironment } from '../environment.ts';

/** What the handler needs besides the event: the controller's dependencies and the metrics emitter. */
export type HandlerDeps = ControllerDeps & { readonly metrics: Metrics };

/**
 * Handle one invocation: parse the event into a trigger (or reject it, writing nothing), run the controller
 * (a scheduled invocation evaluates at each of its slots and re-checks what asks for it, until the next
 * schedule), publish each run's metrics and pair-state lines as it finishes, return the last summary.
 */
export async function handleEvent(
  event: unknown,
  context: Pick<Context, 'awsRequestId' | 'getRemainingTimeInMillis'>,
  deps: HandlerDeps,
): Promise<RunSummary & { runs?: number }> {
  const log = deps.log.child({ requestId: context.awsRequestId });
  let trigger: ReturnType<typeof parseEvent>;
  try {
    trigger = parseEvent(event);
  } catch (error) {
    log.error({ err: error, event }, 'event rejected');
    throw error;
  }
  // Route writes stop in time to store their outcome before Lambda ends the invocation.
  const controller: ControllerDeps = {
    ...deps,
    log,
    deadline: deps.clock.now() + context.getRemainingTimeInMillis(),
  };
  if (trigger.kind === 'schedule') {
    const runs = await runScheduled(controller, {
      onRun: (run) => publishRunMetrics(deps.metrics, run, log),
    });
    const last = runs[runs.length - 1] as RunSummary;
    return { ...last, runs: runs.length };
  }
  const summary = await runController(controller, trigger);
  publishRunMetrics(deps.metrics, summary, log);
  return summary;
}

/** Module scope holds clients, config and the metrics emitter only (style: no other state between runs). */
const metrics = createMetrics();

/**
 * The Lambda entry point. A plain async handler: parsing and error reporting are handleEvent's, and nothing
 * answers for the run before it ends (an early answer would leave the run writing in the frozen environment).
 */
export const handler = async (event: unknown, context: Context): Promise<RunSummary & { runs?: number }> =>
  handleEvent(event, context, { ...depsFromEnvironment(), metrics });
