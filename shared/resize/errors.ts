import { ControllerError } from '../errors.ts';

/**
 * Typed errors of the resize workflow. The state machine's Retry/Catch match on `name`, so each class sets it
 * explicitly from its exported NAME (bundlers may rename classes; https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-ec2.html "Set error names
 * explicitly"), and infra/resize-workflow.ts references these constants, never inline strings.
 */

/** A preflight check failed: nothing was stopped and no lease was taken. Lists every failed check. */
export class PreflightFailedError extends ControllerError {
  static readonly NAME = 'PreflightFailedError';
  readonly problems: readonly string[];
  constructor(pair: string, problems: readonly string[]) {
    super(`preflight checks failed for pair ${pair}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = PreflightFailedError.NAME;
    this.problems = problems;
  }
}

/** A step was asked to stop the member that carries traffic (the rule "never stop the member that carries traffic"): refused, nothing done. */
export class MemberCarriesTrafficError extends ControllerError {
  static readonly NAME = 'MemberCarriesTrafficError';
  constructor(message: string) {
    super(message);
    this.name = MemberCarriesTrafficError.NAME;
  }
}

/** The managed routes could not be read, so a step cannot prove a member is idle. Retryable. */
export class RoutesUnreadableError extends ControllerError {
  static readonly NAME = 'RoutesUnreadableError';
  constructor(message: string) {
    super(message);
    this.name = RoutesUnreadableError.NAME;
  }
}

/** The instance did not reach `stopped` within the workflow's bounded number of polls. */
export class StopTimeoutError extends ControllerError {
  static readonly NAME = 'StopTimeoutError';
  constructor(message: string) {
    super(message);
    this.name = StopTimeoutError.NAME;
  }
}

/** The member did not become healthy (by the controller's signals) within the bounded number of polls. */
export class MemberNotHealthyError extends ControllerError {
  static readonly NAME = 'MemberNotHealthyError';
  constructor(message: string) {
    super(message);
    this.name = MemberNotHealthyError.NAME;
  }
}

/** The resized member turned unhealthy (or lost the traffic) during the soak: the workflow rolls back. */
export class SoakFailedError extends ControllerError {
  static readonly NAME = 'SoakFailedError';
  constructor(message: string) {
    super(message);
    this.name = SoakFailedError.NAME;
  }
}

/** Fail-state error of an execution that was compensated and left the pair as it found it. */
export const RESIZE_ROLLED_BACK = 'ResizeRolledBack';

/** Fail-state error of an execution that could not complete nor fully roll back (the cause says what is left). */
export const RESIZE_FAILED = 'ResizeFailed';
