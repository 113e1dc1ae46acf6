import { NamedError } from '../shared/errors.ts';

/**
 * Fault kinds a scenario can inject (docs/simulator.md#scenario-files) and the service errors the simulated account
 * answers with.
 */

/** Every fault kind a scenario file may name (docs/simulator.md#scenario-files). */
export const FAULT_KINDS = [
  'stop',
  'start',
  'terminate',
  'system-impaired',
  'instance-impaired',
  'status-ok',
  'daemon-down',
  'daemon-up',
  'tunnel-down',
  'tunnel-up',
  'ssm-agent-offline',
  'ssm-agent-online',
  'scheduled-retirement',
  'insufficient-capacity',
  'daemon-hang',
  'os-hang',
  'os-recover',
  'agent-stop',
  'agent-start',
  'foreign-route',
  'api-throttling',
  'state-store-errors',
] as const;

/** A fault kind. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Faults that hit API calls for a while, at a rate: api-throttling (every call, or the calls naming one member)
 * and state-store-errors (every call to the state table fails, at the rate, with DynamoDB throttling or an
 * internal server error; target `*` only).
 */
export const CALL_FAULTS = ['api-throttling', 'state-store-errors'] as const;

/** A fault that hits API calls. */
export type CallFault = (typeof CALL_FAULTS)[number];

/**
 * Faults on one managed route of a pair rather than on a member: foreign-route (target PAIR, with routeTable
 * and destination: someone points that route outside the pair).
 */
export const ROUTE_FAULTS = ['foreign-route'] as const;

/** A fault that acts on a pair's route. */
export type RouteFault = (typeof ROUTE_FAULTS)[number];

/** Faults that act on one member instance (everything but the call and route faults). */
export type MemberFault = Exclude<FaultKind, CallFault | RouteFault>;

/**
 * An error the simulated service answers with. The middleware turns it into the service's wire-format error
 * response, so the SDK's own deserializer builds the exception callers see (EC2ServiceException with the EC2
 * code as its name, SSM's modeled InvalidInstanceId...), exactly as against AWS.
 */
export class ServiceFault extends NamedError {
  static override readonly NAME = 'ServiceFault';
  /** the AWS error code, e.g. InvalidRoute.NotFound */
  readonly code: string;
  readonly httpStatus: number;
  constructor(code: string, message: string, httpStatus = 400, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.httpStatus = httpStatus;
  }
}

/** Shorthand for a client-side (4xx) service error. */
export const serviceFault = (code: string, message: string, httpStatus = 400): ServiceFault =>
  new ServiceFault(code, message, httpStatus);
