/**
 * Typed errors. `name` is set explicitly (bundlers may rename classes) because Step Functions'
 * Retry/Catch and callers match on it.
 */

/** One problem in user input, located by its path ("pairs[1].standby.instanceId"). */
export interface InputProblem {
  readonly path: string;
  readonly message: string;
}

export class ControllerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ControllerError';
  }
}

/** Invalid configuration or scenario: every problem listed; nothing runs. */
export class InputError extends ControllerError {
  static readonly NAME = 'InputError';
  readonly problems: readonly InputProblem[];
  constructor(what: string, problems: readonly InputProblem[]) {
    super(`invalid ${what}:\n${problems.map((p) => `  ${p.path || '(root)'}: ${p.message}`).join('\n')}`);
    this.name = InputError.NAME;
    this.problems = problems;
  }
}

/** An event or command the controller does not accept. Nothing is written. */
export class BadEventError extends ControllerError {
  static readonly NAME = 'BadEventError';
  constructor(message: string) {
    super(message);
    this.name = BadEventError.NAME;
  }
}

/** A manual failover refused because the target is not healthy (use force to override). */
export class UnhealthyTargetError extends ControllerError {
  static readonly NAME = 'UnhealthyTargetError';
  constructor(message: string) {
    super(message);
    this.name = UnhealthyTargetError.NAME;
  }
}

/** An optimistic-lock or lease condition failed: someone else wrote first. */
export class ConflictError extends ControllerError {
  static readonly NAME = 'ConflictError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = ConflictError.NAME;
  }
}

/** The pair's maintenance lease is held by someone else. */
export class LeaseHeldError extends ControllerError {
  static readonly NAME = 'LeaseHeldError';
  constructor(message: string) {
    super(message);
    this.name = LeaseHeldError.NAME;
  }
}

/** AWS throttled us (RequestLimitExceeded...) after the SDK's own retries. Retryable. */
export class ThrottledError extends ControllerError {
  static readonly NAME = 'ThrottledError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = ThrottledError.NAME;
  }
}

/** Routes did not read back as written. Retryable (eventual consistency). */
export class RouteNotConfirmedError extends ControllerError {
  static readonly NAME = 'RouteNotConfirmedError';
  constructor(message: string) {
    super(message);
    this.name = RouteNotConfirmedError.NAME;
  }
}
