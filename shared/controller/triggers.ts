import type { PairConfig } from '../config/schema.ts';
import type { OperatorCommand } from '../decide/decide.ts';
import { ROLES } from '../domain/types.ts';
import { BadEventError } from '../errors.ts';
import type { ControllerDeps, OperatorTrigger, Trigger } from './types.ts';

/**
 * What a trigger asks of a run: which pairs to look at (an EC2 event, an agent report, an alarm, an operator's
 * command, the schedule) and the operator command it carries to decide, if any.
 */

export const isOperator = (trigger: Trigger): trigger is OperatorTrigger =>
  trigger.kind === 'failover' || trigger.kind === 'pause' || trigger.kind === 'resume';

/** Says why, when an operator names a pair the configuration does not have. */
export function unknownPair(deps: ControllerDeps, name: string): string | undefined {
  const all = deps.config.pairs;
  return all.some((p) => p.name === name)
    ? undefined
    : `unknown pair "${name}" (configured: ${all.map((p) => p.name).join(', ')})`;
}

/** The operator command a trigger carries to decide, if any. */
export function commandOf(trigger: Trigger): OperatorCommand | undefined {
  switch (trigger.kind) {
    case 'failover':
      return { action: 'failover', to: trigger.to, force: trigger.force };
    case 'pause':
      return {
        action: 'pause',
        seconds: trigger.seconds,
        reason: trigger.reason,
        ...(trigger.by !== undefined && { by: trigger.by }),
      };
    case 'resume':
      return { action: 'resume', ...(trigger.by !== undefined && { by: trigger.by }) };
    default:
      return undefined;
  }
}

/** EC2 instance states in which a member carries no traffic (or soon will not). */
const LEAVING_STATES: ReadonlySet<string> = new Set(['stopping', 'stopped', 'shutting-down', 'terminated']);

/** The pairs a trigger asks about. Unknown pairs named by an operator are an error; unknown instances are not. */
export function selectPairs(deps: ControllerDeps, trigger: Trigger): PairConfig[] {
  const all = deps.config.pairs;
  switch (trigger.kind) {
    case 'schedule':
      return [...all];
    case 'recheck':
      return all.filter((p) => trigger.pairs.includes(p.name));
    case 'reconcile':
    case 'failover':
    case 'pause':
    case 'resume': {
      if (trigger.pair === undefined) return [...all];
      const unknown = unknownPair(deps, trigger.pair);
      if (unknown !== undefined) throw new BadEventError(unknown);
      return all.filter((p) => p.name === trigger.pair);
    }
    case 'instance-state-change': {
      const pair = all.find((p) => ROLES.some((r) => p[r].instanceId === trigger.instanceId));
      if (!pair) {
        deps.log.info({ instanceId: trigger.instanceId }, 'state change of an unmanaged instance ignored');
        return [];
      }
      // A managed instance going down is often one of many (a zone or a host lost): look at every pair, so one
      // run moves all the lost pairs through one write budget instead of one invocation per instance.
      return LEAVING_STATES.has(trigger.state) ? [...all] : [pair];
    }
    case 'agent-report': {
      for (const reason of trigger.ignored ?? []) deps.log.warn({ reason }, 'agent stream record ignored');
      const pairs = all.filter((p) => ROLES.some((r) => trigger.instanceIds.includes(p[r].instanceId)));
      const managed = new Set(pairs.flatMap((p) => ROLES.map((r) => p[r].instanceId)));
      const unmanaged = trigger.instanceIds.filter((id) => !managed.has(id));
      if (unmanaged.length > 0) {
        deps.log.info(
          { instanceIds: unmanaged },
          'agent report of an instance in no configured pair ignored',
        );
      }
      return pairs;
    }
    case 'alarm': {
      // The product's pair alarms are named "<deployment>.pair.<pair>.<kind>" (infra/telemetry.ts alarmName);
      // any other alarm means "look at everything".
      const pair = all.find((p) => trigger.alarmName.includes(`.pair.${p.name}.`));
      return pair ? [pair] : [...all];
    }
  }
}
