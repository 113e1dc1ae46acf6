import {
  describeInstances,
  describeInstanceTypes,
  type InstanceDescription,
  type InstanceTypeDescription,
} from '../aws/ec2-resize.ts';
import { AwsError, IncorrectInstanceStateError, InvalidInstanceTypeError } from '../aws/errors.ts';
import { StateStore } from '../aws/state-store.ts';
import type { PairConfig } from '../config/schema.ts';
import { observePairs } from '../controller/observe.ts';
import type { ControllerDeps } from '../controller/types.ts';
import { evaluateMember } from '../decide/health.ts';
import { analyseRoutes, type RouteStatus, routesConverged } from '../decide/routes.ts';
import type { Verdict } from '../domain/plan.ts';
import type { PairObservation, Role, StoredPair } from '../domain/types.ts';
import { ROLES } from '../domain/types.ts';
import { PreflightFailedError } from './errors.ts';
import type { ResizeContext } from './types.ts';

/**
 * What the resize steps read: the pair's configuration, its stored state and how the controller sees it now
 * (its own observe and health rules), and the members and instance types as EC2 describes them.
 */

/** The resize steps need exactly what the controller needs (they call its observe and failover). */
export type ResizeDeps = ControllerDeps;

/** The state store on the deployment's table (pair state, history and the maintenance lease). */
export const storeOf = (deps: ResizeDeps) =>
  new StateStore({ dynamo: deps.clients.dynamo, tableName: deps.tableName, clock: deps.clock });

/** The configured pair of that name. */
export function pairNamed(deps: ResizeDeps, name: string): PairConfig | undefined {
  return deps.config.pairs.find((p) => p.name === name);
}

/** The pair a running resize is for; PreflightFailedError when it is no longer configured. */
export function configuredPair(deps: ResizeDeps, ctx: ResizeContext): PairConfig {
  const pair = pairNamed(deps, ctx.pair);
  if (!pair) throw new PreflightFailedError(ctx.pair, [`pair ${ctx.pair} is no longer configured`]);
  return pair;
}

/** The pair as the controller sees it right now: stored memory, observation, verdicts, routes. */
export interface PairView {
  readonly stored: StoredPair;
  readonly observation: PairObservation;
  readonly verdicts: Readonly<Record<Role, Verdict>>;
  readonly routes: readonly RouteStatus[] | undefined;
}

/** Observe one pair with the controller's own observe and health rules (the same signals it fails over on). */
export async function viewPair(deps: ResizeDeps, pair: PairConfig): Promise<PairView> {
  const stored = await storeOf(deps).loadPair(pair.name);
  const observations = await observePairs(deps, [pair], new Map([[pair.name, stored.memory]]));
  const observation = observations.get(pair.name) as PairObservation;
  const now = deps.clock.now();
  const verdicts = {
    primary: evaluateMember({ pair, role: 'primary', observation, now }),
    standby: evaluateMember({ pair, role: 'standby', observation, now }),
  };
  return { stored, observation, verdicts, routes: analyseRoutes(pair, observation) };
}

/** The member every managed route points at, or undefined when they are split or unreadable. */
export function carrierOf(routes: readonly RouteStatus[] | undefined): Role | undefined {
  if (routes === undefined || !routes.some((r) => r.target !== 'foreign')) return undefined;
  return ROLES.find((role) => routesConverged(routes, role));
}

/** One member by DescribeInstances; undefined when EC2 does not know it. */
export async function describeMember(
  deps: ResizeDeps,
  instanceId: string,
): Promise<InstanceDescription | undefined> {
  try {
    const [instance] = await describeInstances(deps.clients.ec2, [instanceId]);
    return instance;
  } catch (error) {
    if (error instanceof AwsError && error.code === 'InvalidInstanceID.NotFound') return undefined;
    throw error;
  }
}

/** One member by DescribeInstances; IncorrectInstanceStateError when EC2 does not know it. */
export async function requireMember(deps: ResizeDeps, instanceId: string): Promise<InstanceDescription> {
  const instance = await describeMember(deps, instanceId);
  if (!instance) throw new IncorrectInstanceStateError(`instance ${instanceId} does not exist`);
  return instance;
}

/** One instance type by DescribeInstanceTypes; undefined when EC2 does not know it. */
export async function describeType(
  deps: ResizeDeps,
  type: string,
): Promise<InstanceTypeDescription | undefined> {
  try {
    const [description] = await describeInstanceTypes(deps.clients.ec2, [type]);
    return description;
  } catch (error) {
    if (error instanceof InvalidInstanceTypeError) return undefined;
    throw error;
  }
}

/** A lease as messages name it: holder, expiry and the member under maintenance. */
export const describeLease = (owner: string, until: number, member?: Role) =>
  `${owner} until ${new Date(until).toISOString()}${member ? ` (${member} under maintenance)` : ''}`;
