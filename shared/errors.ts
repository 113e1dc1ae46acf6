/**
 * Typed errors. Step Functions' Retry/Catch and callers match on `name`
 * (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html), so it comes from each
 * class's own static NAME, never from the class name, which bundlers rename.
 */

/** One problem in user input, located by its path ("pairs[1].standby.instanceId"). */
export interface InputProblem {
  readonly path: string;
  readonly message: string;
}

/**
 * The base of every error this project throws: `name` is the NAME of the class constructed (each subclass
 * declares its own), and `cause` is always kept, so the AWS error behind a wrapped one reaches the logs.
 */
export abstract class NamedError extends Error {
  static readonly NAME: string = 'NamedError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.NAME;
  }
}

/** A failure of the controller, the resize workflow or the AWS calls they make. */
export class ControllerError extends NamedError {
  static override readonly NAME: string = 'ControllerError';
}

/** Invalid configuration or scenario: every problem listed; nothing runs. */
export class InputError extends ControllerError {
  static override readonly NAME = 'InputError';
  readonly problems: readonly InputProblem[];
  constructor(what: string, problems: readonly InputProblem[], options?: ErrorOptions) {
    super(
      `invalid ${what}:\n${problems.map((p) => `  ${p.path || '(root)'}: ${p.message}`).join('\n')}`,
      options,
    );
    this.problems = problems;
  }
}

/** An event or command the controller does not accept. Nothing is written. */
export class BadEventError extends ControllerError {
  static override readonly NAME = 'BadEventError';
}

/** A manual failover refused because the target is not healthy (use force to override). */
export class UnhealthyTargetError extends ControllerError {
  static override readonly NAME = 'UnhealthyTargetError';
}

/** An optimistic-lock or lease condition failed: someone else wrote first. */
export class ConflictError extends ControllerError {
  static override readonly NAME = 'ConflictError';
}

/** The pair's maintenance lease is held by someone else. */
export class LeaseHeldError extends ControllerError {
  static override readonly NAME = 'LeaseHeldError';
}

/** AWS throttled us (RequestLimitExceeded...) after the SDK's own retries. Retryable. */
export class ThrottledError extends ControllerError {
  static override readonly NAME = 'ThrottledError';
}

/** Routes did not read back as written. Retryable (eventual consistency). */
export class RouteNotConfirmedError extends ControllerError {
  static override readonly NAME = 'RouteNotConfirmedError';
}
