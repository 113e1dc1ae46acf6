import type { PairConfig } from '../config/schema.ts';
import { formatSeconds } from '../duration.ts';
import { finalTarget } from './preflight.ts';
import type { ResizeContext, Stage } from './types.ts';

/** One stage of a resize as an operator reads it (the CLI's --dry-run and the notification). */
export interface PlanStage {
  readonly title: string;
  readonly detail: string;
}

/** The stages a resize will go through, in order, for a context the preflight built. */
export function describeResizePlan(pair: PairConfig, ctx: ResizeContext): PlanStage[] {
  const resize = (stage: Stage): PlanStage => {
    const role = ctx[stage];
    const from = ctx.originalTypes[role];
    return ctx.skip[stage]
      ? {
          title: `resize ${role}`,
          detail: `skipped: ${pair[role].instanceId} already runs ${ctx.instanceType}`,
        }
      : {
          title: `resize ${role}`,
          detail: `${pair[role].instanceId} ${from} -> ${ctx.instanceType}: stop, wait until stopped, modify type, start, wait until healthy (reverted to ${from} if it cannot start or become healthy)`,
        };
  };
  const target = finalTarget(ctx);
  return [
    {
      title: 'take the lease',
      detail: `owner ${ctx.owner}; ${ctx.first} under maintenance (the controller will not move traffic to it)`,
    },
    resize('first'),
    {
      title: `fail over to ${ctx.first}`,
      detail: `through the controller's failover; soak ${formatSeconds(ctx.soakSeconds)}, rolling back to ${ctx.second} if ${ctx.first} turns unhealthy`,
    },
    resize('second'),
    target === ctx.first
      ? { title: 'leave traffic', detail: `traffic stays on ${ctx.first}` }
      : { title: `fail back to ${target}`, detail: `through the controller's failover` },
    { title: 'finish', detail: 'release the lease, record history, notify the topic' },
  ];
}
