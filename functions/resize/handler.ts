import type { Context } from 'aws-lambda';
import type { ResizeDeps } from '../../shared/resize/step-reads.ts';
import { runStep, type StepResult } from '../../shared/resize/steps.ts';
import { parseStepEvent } from '../../shared/resize/types.ts';
import { depsFromEnvironment } from '../environment.ts';

/**
 * The resize workflow's one Lambda: the state machine names the step in the event (`{"step": "stop", ...}`).
 * Parse, run the step, return its small JSON result. Errors propagate with their `name` (the Lambda runtime
 * reports it as errorType), which is what the state machine's Retry/Catch match.
 */
export async function handleStep(
  event: unknown,
  context: Pick<Context, 'awsRequestId'>,
  deps: ResizeDeps,
): Promise<StepResult> {
  const step = parseStepEvent(event);
  const log = deps.log.child({
    requestId: context.awsRequestId,
    step: step.step,
    ...('ctx' in step && 'owner' in step.ctx ? { executionId: step.ctx.owner, pairId: step.ctx.pair } : {}),
  });
  try {
    return await runStep({ ...deps, log }, step);
  } catch (error) {
    log.warn({ err: error }, 'resize step failed');
    throw error;
  }
}

/**
 * The Lambda entry point. A plain async handler: parsing and error reporting are handleStep's, and nothing
 * answers for the step before it ends (an early answer would leave the step working in the frozen environment).
 */
export const handler = async (event: unknown, context: Context): Promise<StepResult> =>
  handleStep(event, context, depsFromEnvironment());
