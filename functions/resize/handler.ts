import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { createClients } from '../../shared/aws/clients.ts';
import { systemClock } from '../../shared/clock.ts';
import { loadConfigFile } from '../../shared/config/load.ts';
import { rootLogger } from '../../shared/logger.ts';
import { type ResizeDeps, runStep, type StepResult } from '../../shared/resize/steps.ts';
import { parseStepEvent } from '../../shared/resize/types.ts';
import { ENV } from '../../shared/telemetry-names.ts';

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

let coldStart: ResizeDeps | undefined;

/** Built on the first invocation from the environment the CDK app sets (the same as the controller's). */
function depsFromEnvironment(): ResizeDeps {
  const required = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`environment variable ${name} is not set`);
    return value;
  };
  coldStart ??= {
    clients: createClients(),
    config: loadConfigFile(required(ENV.configPath)),
    tableName: required(ENV.tableName),
    probeDocument: required(ENV.probeDocument),
    clock: systemClock,
    log: rootLogger,
  };
  return coldStart;
}

/** The Lambda entry point. */
export const handler = middy<unknown, StepResult>().handler((event, context) =>
  handleStep(event, context, depsFromEnvironment()),
);
