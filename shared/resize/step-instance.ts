import {
  type InstanceDescription,
  modifyInstanceType,
  startInstance,
  stopInstance,
} from '../aws/ec2-resize.ts';
import { IncorrectInstanceStateError } from '../aws/errors.ts';
import { LeaseHeldError } from '../errors.ts';
import {
  MemberCarriesTrafficError,
  MemberNotHealthyError,
  RoutesUnreadableError,
  StopTimeoutError,
} from './errors.ts';
import { HEALTHY_POLL, STOP_POLL } from './policy.ts';
import { configuredPair, describeLease, type ResizeDeps, requireMember, viewPair } from './step-reads.ts';
import type { Poll, ResizeContext, Stage } from './types.ts';

/**
 * The steps on one member's instance: stop it (only once it carries no traffic and the lease covers it), wait
 * for it to stop, change its type, start it, wait for it to be healthy, and look before reverting it.
 */

/** What an instance step reports (small: it lands in the execution history). */
export interface InstanceStepResult {
  readonly instanceId: string;
  readonly state?: string;
  readonly instanceType?: string;
  readonly action: string;
}

/** What the inspect step says about a member before reverting it. */
export interface InspectResult extends InstanceStepResult {
  readonly revertNeeded: boolean;
}

/**
 * Stop a member, after proving it carries no traffic: every managed route is read again and the lease must be
 * ours and cover this member (so the controller cannot move traffic to it in between). A member already
 * stopping or stopped is left as it is.
 */
export async function stopMember(
  deps: ResizeDeps,
  ctx: ResizeContext,
  stage: Stage,
): Promise<InstanceStepResult> {
  const pair = configuredPair(deps, ctx);
  const role = ctx[stage];
  const instanceId = pair[role].instanceId;
  const view = await viewPair(deps, pair);
  const lease = view.stored.memory.lease;
  if (
    lease === undefined ||
    lease.owner !== ctx.owner ||
    lease.until < deps.clock.now() ||
    lease.member !== role
  ) {
    throw new LeaseHeldError(
      `refusing to stop ${role} ${instanceId}: the lease of pair ${pair.name} is ${lease ? `held by ${describeLease(lease.owner, lease.until, lease.member)}` : 'not held'}, not by ${ctx.owner} for ${role}`,
    );
  }
  if (view.routes === undefined) {
    throw new RoutesUnreadableError(
      `refusing to stop ${role} ${instanceId}: the route tables of pair ${pair.name} could not be read`,
    );
  }
  const carried = view.routes.filter((r) => r.target === role);
  if (carried.length > 0) {
    throw new MemberCarriesTrafficError(
      `refusing to stop ${role} ${instanceId}: it carries traffic (${carried.map((r) => `${r.routeTableId} ${r.destination}`).join(', ')})`,
    );
  }
  const instance = await requireMember(deps, instanceId);
  switch (instance.state) {
    case 'pending':
    case 'running':
      await stopInstance(deps.clients.ec2, instanceId);
      return { ...described(instance), action: 'StopInstances' };
    case 'stopping':
    case 'stopped':
      return { ...described(instance), action: 'already stopping' };
    default:
      throw new IncorrectInstanceStateError(
        `cannot stop ${role} ${instanceId}: it is ${instance.state ?? 'in an unknown state'}`,
      );
  }
}

/** What a step reports about the instance it acted on. */
const described = (instance: InstanceDescription) => ({
  instanceId: instance.instanceId,
  ...(instance.state ? { state: instance.state } : {}),
  ...(instance.instanceType ? { instanceType: instance.instanceType } : {}),
});

/** One poll of "stopped yet?"; StopTimeoutError once the bound is reached. */
export async function checkStopped(
  deps: ResizeDeps,
  ctx: ResizeContext,
  stage: Stage,
  poll: Poll,
): Promise<Poll> {
  const pair = configuredPair(deps, ctx);
  const role = ctx[stage];
  const instance = await requireMember(deps, pair[role].instanceId);
  const attempt = poll.attempt + 1;
  if (instance.state === 'stopped') return { attempt, done: true, detail: `${role} stopped` };
  if (attempt >= STOP_POLL.maxAttempts) {
    throw new StopTimeoutError(
      `${role} ${instance.instanceId} is still ${instance.state ?? 'in an unknown state'} after ${attempt} checks ${STOP_POLL.intervalSeconds}s apart`,
    );
  }
  return { attempt, done: false, detail: `${role} ${instance.state ?? 'state unknown'}` };
}

/** Set the member's type to the requested one or back to its original; nothing to do when it already is. */
export async function modifyMember(
  deps: ResizeDeps,
  ctx: ResizeContext,
  stage: Stage,
  to: 'target' | 'original',
): Promise<InstanceStepResult> {
  const pair = configuredPair(deps, ctx);
  const role = ctx[stage];
  const type = to === 'target' ? ctx.instanceType : ctx.originalTypes[role];
  const instance = await requireMember(deps, pair[role].instanceId);
  if (instance.instanceType === type) return { ...described(instance), action: `already ${type}` };
  await modifyInstanceType(deps.clients.ec2, instance.instanceId, type);
  return { ...described(instance), instanceType: type, action: `ModifyInstanceAttribute ${type}` };
}

/** Start the member (InsufficientCapacityError when the AZ has no capacity for its type). */
export async function startMember(
  deps: ResizeDeps,
  ctx: ResizeContext,
  stage: Stage,
): Promise<InstanceStepResult> {
  const pair = configuredPair(deps, ctx);
  const instance = await requireMember(deps, pair[ctx[stage]].instanceId);
  if (instance.state === 'pending' || instance.state === 'running') {
    return { ...described(instance), action: 'already starting' };
  }
  await startInstance(deps.clients.ec2, instance.instanceId);
  return { ...described(instance), action: 'StartInstances' };
}

/**
 * One poll of "healthy yet?" by the controller's signals (status checks, daemon probe, tunnel). A member that
 * stopped again will not come back by itself: MemberNotHealthyError at once; otherwise at the bound.
 */
export async function checkHealthy(
  deps: ResizeDeps,
  ctx: ResizeContext,
  stage: Stage,
  poll: Poll,
): Promise<Poll> {
  const pair = configuredPair(deps, ctx);
  const role = ctx[stage];
  const view = await viewPair(deps, pair);
  const verdict = view.verdicts[role];
  const attempt = poll.attempt + 1;
  if (verdict.health === 'healthy') return { attempt, done: true, detail: `${role} healthy` };
  const state = view.observation.instances[role].state;
  const gone = state === 'stopped' || state === 'terminated' || state === 'shutting-down';
  if (gone || attempt >= HEALTHY_POLL.maxAttempts) {
    throw new MemberNotHealthyError(
      `${role} ${pair[role].instanceId} did not become healthy${gone ? ` (it is ${state})` : ` after ${attempt} checks ${HEALTHY_POLL.intervalSeconds}s apart`}: ${verdict.reason}`,
    );
  }
  return { attempt, done: false, detail: `${role} ${verdict.health}: ${verdict.reason}` };
}

/** Before reverting a member: is there anything to revert (not running, or not at its original type)? */
export async function inspect(deps: ResizeDeps, ctx: ResizeContext, stage: Stage): Promise<InspectResult> {
  const pair = configuredPair(deps, ctx);
  const role = ctx[stage];
  const instance = await requireMember(deps, pair[role].instanceId);
  const revertNeeded = !(instance.state === 'running' && instance.instanceType === ctx.originalTypes[role]);
  return {
    ...described(instance),
    action: revertNeeded ? `revert to ${ctx.originalTypes[role]}` : 'nothing to revert',
    revertNeeded,
  };
}
