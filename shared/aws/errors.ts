import { ControllerError, ThrottledError } from '../errors.ts';

/**
 * AWS error names and the typed errors the adapters raise. EC2 errors are unmodeled: the SDK surfaces them
 * as EC2ServiceException with `name` set to the EC2 code, so everything here matches on the name string
 * (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html).
 */

/**
 * Error codes the SDK classifies as throttling: smithy's THROTTLING_ERROR_CODES, which include EC2's
 * RequestLimitExceeded (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html).
 */
const THROTTLING_CODES: ReadonlySet<string> = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);

/**
 * The AWS error code of an SDK error (its `name`, which the SDK sets to the service's code), or undefined for
 * values that carry no specific name (plain `Error`, strings, undefined).
 */
export function awsErrorName(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { name, Code } = err as { name?: unknown; Code?: unknown };
  if (typeof name === 'string' && name !== '' && name !== 'Error') return name;
  if (typeof Code === 'string' && Code !== '') return Code;
  return undefined;
}

/** True when AWS throttled the request (the SDK has already retried it with backoff by the time we see it). */
export function isThrottle(err: unknown): boolean {
  const name = awsErrorName(err);
  if (name !== undefined && THROTTLING_CODES.has(name)) return true;
  const retryable = (err as { $retryable?: { throttling?: unknown } } | null | undefined)?.$retryable;
  return retryable?.throttling === true;
}

/** "Code: message" for logs, error strings of partial reads and wrapped error messages. */
export function describeAwsError(err: unknown): string {
  const name = awsErrorName(err);
  const message = err instanceof Error ? err.message : String(err);
  if (name === undefined) return message;
  return message === '' || message === name ? name : `${name}: ${message}`;
}

/** An AWS call failed for a reason no more specific error class covers. `code` is the AWS error code. */
export class AwsError extends ControllerError {
  static override readonly NAME = 'AwsError';
  readonly code: string | undefined;
  constructor(message: string, code: string | undefined, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** EC2 has no capacity for the instance type in that AZ right now (InsufficientInstanceCapacity on start). */
export class InsufficientCapacityError extends ControllerError {
  static override readonly NAME = 'InsufficientCapacityError';
}

/** The instance is not in a state that allows the action (IncorrectInstanceState), e.g. modifying a running one. */
export class IncorrectInstanceStateError extends ControllerError {
  static override readonly NAME = 'IncorrectInstanceStateError';
}

/** The instance type does not exist or cannot be applied to this instance (InvalidInstanceAttributeValue...). */
export class InvalidInstanceTypeError extends ControllerError {
  static override readonly NAME = 'InvalidInstanceTypeError';
}

/** EC2 codes with their own error class, so Step Functions Retry/Catch can tell them apart (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). */
const TYPED_EC2_ERRORS: Readonly<
  Record<string, new (message: string, options?: ErrorOptions) => ControllerError>
> = {
  InsufficientInstanceCapacity: InsufficientCapacityError,
  IncorrectInstanceState: IncorrectInstanceStateError,
  InvalidInstanceAttributeValue: InvalidInstanceTypeError,
  InvalidInstanceType: InvalidInstanceTypeError,
};

/**
 * The typed error for a failed AWS call: ThrottledError when throttled after the SDK's retries, a specific class
 * for the EC2 codes above, otherwise AwsError carrying the code. `action` names what was attempted; the
 * original error is kept as `cause`. Errors that are already ControllerErrors pass through.
 */
export function toControllerError(err: unknown, action: string): ControllerError {
  if (err instanceof ControllerError) return err;
  const message = `${action}: ${describeAwsError(err)}`;
  if (isThrottle(err)) return new ThrottledError(message, { cause: err });
  const name = awsErrorName(err);
  const Typed = name === undefined ? undefined : TYPED_EC2_ERRORS[name];
  return Typed ? new Typed(message, { cause: err }) : new AwsError(message, name, { cause: err });
}
