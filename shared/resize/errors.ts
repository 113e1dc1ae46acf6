import { ControllerError } from '../errors.ts';

/**
 * Typed errors of the resize workflow. The state machine's Retry/Catch match on `name`
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html), which each class takes
 * from its own NAME (the base class sets it), and infra/resize-workflow.ts references these constants, never
 * inline strings.
 */

/** A preflight check failed: nothing was stopped and no lease was taken. Lists every failed check. */
export class PreflightFailedError extends ControllerError {
  static override readonly NAME = 'PreflightFailedError';
  readonly problems: readonly string[];
  constructor(pair: string, problems: readonly string[], options?: ErrorOptions) {
    super(
      `preflight checks failed for pair ${pair}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      options,
    );
    this.problems = problems;
  }
}

/** A step was asked to stop the member that carries traffic (the rule "never stop the member that carries traffic"): refused, nothing done. */
export class MemberCarriesTrafficError extends ControllerError {
  static override readonly NAME = 'MemberCarriesTrafficError';
}

/** The managed routes could not be read, so a step cannot prove a member is idle. Retryable. */
export class RoutesUnreadableError extends ControllerError {
  static override readonly NAME = 'RoutesUnreadableError';
}

/** The instance did not reach `stopped` within the workflow's bounded number of polls. */
export class StopTimeoutError extends ControllerError {
  static override readonly NAME = 'StopTimeoutError';
}

/** The member did not become healthy (by the controller's signals) within the bounded number of polls. */
export class MemberNotHealthyError extends ControllerError {
  static override readonly NAME = 'MemberNotHealthyError';
}

/** The resized member turned unhealthy (or lost the traffic) during the soak: the workflow rolls back. */
export class SoakFailedError extends ControllerError {
  static override readonly NAME = 'SoakFailedError';
}

/** Fail-state error of an execution that was compensated and left the pair as it found it. */
export const RESIZE_ROLLED_BACK = 'ResizeRolledBack';

/** Fail-state error of an execution that could not complete nor fully roll back (the cause says what is left). */
export const RESIZE_FAILED = 'ResizeFailed';
