import { runController } from '../controller/run.ts';
import type { Role } from '../domain/types.ts';
import { RouteNotConfirmedError, UnhealthyTargetError } from '../errors.ts';
import { SoakFailedError } from './errors.ts';
import { finalTarget } from './preflight.ts';
import { judgeSoak } from './soak.ts';
import { carrierOf, configuredPair, type ResizeDeps, storeOf, viewPair } from './step-reads.ts';
import type { Poll, ResizeContext } from './types.ts';

/**
 * The steps that move traffic between the members, always through the controller's own failover, with the
 * lease moved first so the controller does not send traffic to the member about to be worked on: fail over
 * to the resized member, soak it, roll back, fail back.
 */

/** Move the lease to `member` (or to no member) for another lease period. */
export async function moveLease(
  deps: ResizeDeps,
  ctx: ResizeContext,
  member: Role | undefined,
): Promise<void> {
  const now = deps.clock.now();
  await storeOf(deps).acquireLease(
    ctx.pair,
    { owner: ctx.owner, ...(member ? { member } : {}), until: now + ctx.leaseSeconds * 1000 },
    now,
  );
}

/**
 * Move traffic through the controller's own failover (refused with UnhealthyTargetError unless the target is
 * healthy). Routes that did not confirm raise RouteNotConfirmedError, which the state machine retries: the
 * failover is idempotent, a second run repairs what the first left.
 */
export async function failOverTo(deps: ResizeDeps, ctx: ResizeContext, to: Role): Promise<void> {
  const summary = await runController(deps, { kind: 'failover', pair: ctx.pair, to, force: false });
  // The controller answers a refusal (it is the operator's answer there); here it stops the step.
  if (summary.refused !== undefined) throw new UnhealthyTargetError(summary.refused);
  const result = summary.pairs.find((p) => p.pair === ctx.pair);
  if (result?.error !== undefined)
    throw new RouteNotConfirmedError(`failover of pair ${ctx.pair} to ${to}: ${result.error}`);
  await storeOf(deps).appendHistory(ctx.pair, deps.clock.now(), {
    event: 'resize-traffic',
    owner: ctx.owner,
    to,
    plan: result?.plan,
    routesChanged: result?.routesChanged.length ?? 0,
  });
}

/**
 * Fail over to the resized member: first the lease moves to the member about to be freed (so the controller
 * will not send traffic back to it), then the controller's failover; returns the first soak poll.
 */
export async function failOverToResized(deps: ResizeDeps, ctx: ResizeContext): Promise<Poll> {
  await moveLease(deps, ctx, ctx.second);
  await failOverTo(deps, ctx, ctx.first);
  return {
    attempt: 0,
    done: false,
    soakUntil: deps.clock.now() + ctx.soakSeconds * 1000,
    unhealthyStreak: 0,
  };
}

/** One soak poll of the resized member carrying traffic, judged by judgeSoak (shared/resize/soak.ts). */
export async function soak(deps: ResizeDeps, ctx: ResizeContext, poll: Poll): Promise<Poll> {
  const pair = configuredPair(deps, ctx);
  const role = ctx.first;
  const view = await viewPair(deps, pair);
  const judged = judgeSoak({
    pair,
    role,
    verdict: view.verdicts[role],
    carriesTraffic: view.routes === undefined ? undefined : carrierOf(view.routes) === role,
    poll,
    now: deps.clock.now(),
  });
  if ('failure' in judged) throw new SoakFailedError(judged.failure);
  return judged.next;
}

/** Send traffic back to the untouched member and put the lease back on the resized one, for reverting it. */
export async function rollBack(deps: ResizeDeps, ctx: ResizeContext): Promise<Record<string, never>> {
  await moveLease(deps, ctx, ctx.first);
  await failOverTo(deps, ctx, ctx.second);
  return {};
}

/**
 * Both members are resized: free the lease's member, then send traffic where it should end (the primary when
 * failing back, else it stays). Refused with UnhealthyTargetError when that member is not healthy; the
 * conclusion then keeps traffic on a healthy member.
 */
export async function failBack(deps: ResizeDeps, ctx: ResizeContext): Promise<Record<string, never>> {
  const pair = configuredPair(deps, ctx);
  await moveLease(deps, ctx, undefined);
  const target = finalTarget(ctx);
  const view = await viewPair(deps, pair);
  if (carrierOf(view.routes) !== target) await failOverTo(deps, ctx, target);
  return {};
}
