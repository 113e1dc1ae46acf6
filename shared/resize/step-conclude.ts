import type { PairConfig } from '../config/schema.ts';
import { otherRole, ROLES, type Role } from '../domain/types.ts';
import { LeaseHeldError } from '../errors.ts';
import { concludeResize, type MemberState, type Outcome, type StepFailure } from './outcome.ts';
import { carrierOf, describeMember, pairNamed, type ResizeDeps, storeOf, viewPair } from './step-reads.ts';
import { failOverTo, moveLease } from './step-traffic.ts';
import { type Caught, isCaught, isContext, type StepEvent } from './types.ts';

/**
 * The conclude step, the end of every path of the workflow: traffic on a healthy member, the lease released,
 * the outcome recorded and reported (./outcome.ts).
 */

const caughtFailure = (caught: Caught): StepFailure | undefined =>
  isCaught(caught)
    ? { Error: caught.Error, ...(caught.Cause !== undefined ? { Cause: caught.Cause } : {}) }
    : undefined;

/**
 * The end of every path: make sure traffic is on a healthy member (moving it through the controller's failover
 * when the member carrying it is not healthy and the other is), release the lease, record history, and say
 * how it ended and what state the pair is in. The status is read from the pair, not assumed from the path.
 */
export async function conclude(
  deps: ResizeDeps,
  event: Extract<StepEvent, { step: 'conclude' }>,
): Promise<Outcome> {
  const requested = event.request as { pair?: unknown; instanceType?: unknown } | null | undefined;
  const ctx = isContext(event.ctx) ? event.ctx : undefined;
  const pairName = ctx?.pair ?? (typeof requested?.pair === 'string' ? requested.pair : 'unknown');
  const instanceType =
    ctx?.instanceType ?? (typeof requested?.instanceType === 'string' ? requested.instanceType : undefined);
  const error = caughtFailure(event.error);
  const revertError = caughtFailure(event.revertError);
  const pair = pairNamed(deps, pairName);
  const actions: string[] = [];
  const store = storeOf(deps);

  if (ctx !== undefined && pair !== undefined) {
    const view = await viewPair(deps, pair);
    const carrying = carrierOf(view.routes);
    const healthy = (role: Role) => view.verdicts[role].health === 'healthy';
    const to =
      carrying !== undefined && !healthy(carrying)
        ? otherRole(carrying)
        : carrying === undefined
          ? ROLES.find(healthy)
          : undefined;
    if (to !== undefined && healthy(to)) {
      try {
        await moveLease(deps, ctx, undefined);
        await failOverTo(deps, ctx, to);
        actions.push(`moved traffic to ${to}, the healthy member`);
      } catch (moveError) {
        actions.push(`could not move traffic to ${to}: ${(moveError as Error).message}`);
      }
    }
  }
  if (pair !== undefined) {
    try {
      const before = (await store.loadPair(pair.name)).memory.lease;
      await store.releaseLease(pair.name, event.execution);
      if (before?.owner === event.execution) actions.push('lease released');
    } catch (releaseError) {
      if (!(releaseError instanceof LeaseHeldError)) throw releaseError;
      // A refused resize finds another execution's lease: not ours to release. A resize whose lease expired
      // and was taken over says so: the controller may have acted meanwhile.
      if (ctx !== undefined) actions.push(`the lease was no longer ours: ${releaseError.message}`);
    }
  }

  const members = pair === undefined ? undefined : await memberStates(deps, pair);
  const outcome = concludeResize({
    pair: pairName,
    ...(instanceType ? { instanceType } : {}),
    ...(ctx ? { ctx } : {}),
    ...(error ? { error } : {}),
    ...(revertError ? { revertError } : {}),
    ...(members
      ? { members: members.states, ...(members.carrying ? { carrying: members.carrying } : {}) }
      : {}),
    actions,
  });
  if (pair !== undefined) {
    await store.appendHistory(pair.name, deps.clock.now(), {
      event: 'resize-finished',
      owner: event.execution,
      status: outcome.status,
      instanceType,
      error: error?.Error,
      message: outcome.message,
    });
  }
  deps.log.info({ pair: pairName, owner: event.execution, outcome }, 'resize concluded');
  return outcome;
}

/** Each member's state, type and health, and where traffic is, as the conclusion reports them. */
async function memberStates(
  deps: ResizeDeps,
  pair: PairConfig,
): Promise<{ states: Record<Role, MemberState>; carrying?: Role }> {
  const [view, primary, standby] = await Promise.all([
    viewPair(deps, pair),
    describeMember(deps, pair.primary.instanceId),
    describeMember(deps, pair.standby.instanceId),
  ]);
  const described = { primary, standby };
  const states = Object.fromEntries(
    ROLES.map((role): [Role, MemberState] => {
      const instance = described[role];
      return [
        role,
        {
          instanceId: pair[role].instanceId,
          ...(instance?.state ? { state: instance.state } : {}),
          ...(instance?.instanceType ? { instanceType: instance.instanceType } : {}),
          health: view.verdicts[role].health,
        },
      ];
    }),
  ) as Record<Role, MemberState>;
  const carrying = carrierOf(view.routes);
  return { states, ...(carrying ? { carrying } : {}) };
}
