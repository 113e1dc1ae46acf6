import { associateElasticIp, readRouteTables, writeRoute } from '../aws/ec2.ts';
import { mapLimit } from '../concurrency.ts';
import type { PairConfig } from '../config/schema.ts';
import type { Plan, RouteWrite } from '../domain/plan.ts';
import { isMove } from '../domain/plan.ts';
import type { ControllerDeps, RouteChange } from './types.ts';

/**
 * Route writes in flight at once. EC2's mutating bucket is 50 requests with a refill of 5 a second
 * (aws-facts.md section 3): 8 parallel writes move a typical pair's tables in one round trip while
 * leaving the bucket to the resize workflow and other tools; the SDK retries RequestLimitExceeded.
 */
export const ROUTE_WRITE_CONCURRENCY = 8;

/** Read-back attempts after writing: DescribeRouteTables may briefly show the old target (aws-facts.md section 3). */
export const CONFIRM_DELAYS_MS: readonly number[] = [0, 500, 1000, 2000];

export interface ActResult {
  readonly routesChanged: readonly RouteChange[];
  readonly elasticIpMoved: boolean;
  /** writes that did not read back as written; the next run repairs them */
  readonly unconfirmed: readonly RouteWrite[];
  /** writes (or the Elastic IP move) that failed, with the AWS error; the next run repairs them */
  readonly failures: readonly string[];
}

/**
 * Carry out a move plan: every route write (tables in parallel), the Elastic IP, then read the tables back
 * until they show the new target. A write that fails is left for the next run, which sees the route still on
 * the old member and repairs it (the intent is already stored), so a crash half way is finished later.
 */
export async function act(deps: ControllerDeps, pair: PairConfig, plan: Plan): Promise<ActResult> {
  if (!isMove(plan)) return { routesChanged: [], elasticIpMoved: false, unconfirmed: [], failures: [] };
  const { ec2 } = deps.clients;
  const outcomes = await mapLimit(plan.routes, ROUTE_WRITE_CONCURRENCY, async (write) => {
    try {
      return { write, action: await writeRoute(ec2, write) };
    } catch (error) {
      deps.log.warn(
        { err: error, routeTableId: write.routeTableId, destination: write.destination },
        'route write failed',
      );
      return { write, error: error as Error };
    }
  });
  const routesChanged: RouteChange[] = outcomes.flatMap((o) =>
    'action' in o && o.action
      ? [
          {
            routeTableId: o.write.routeTableId,
            destination: o.write.destination,
            to: plan.to,
            action: o.action,
          },
        ]
      : [],
  );

  const failures = outcomes.flatMap((o) =>
    'error' in o && o.error ? [`${o.write.routeTableId} ${o.write.destination}: ${o.error.message}`] : [],
  );

  let elasticIpMoved = false;
  const targetEni = plan.routes[0]?.networkInterfaceId ?? plan.targetEni;
  if (plan.moveElasticIp && pair.elasticIp && targetEni) {
    try {
      await associateElasticIp(ec2, pair.elasticIp.allocationId, targetEni);
      elasticIpMoved = true;
    } catch (error) {
      failures.push(`Elastic IP ${pair.elasticIp.allocationId}: ${(error as Error).message}`);
    }
  }

  const written = outcomes.filter((o) => 'action' in o).map((o) => o.write);
  const unconfirmed = await confirm(deps, written);
  return { routesChanged, elasticIpMoved, unconfirmed, failures };
}

/** Read the written tables back until every write shows its new target, or the attempts run out. */
async function confirm(deps: ControllerDeps, writes: readonly RouteWrite[]): Promise<RouteWrite[]> {
  let pending = [...writes];
  for (const delay of CONFIRM_DELAYS_MS) {
    if (pending.length === 0) break;
    if (delay > 0) await deps.clock.sleep(delay);
    const tables = await readRouteTables(deps.clients.ec2, [...new Set(pending.map((w) => w.routeTableId))]);
    pending = pending.filter((w) => {
      const route = tables.values
        .get(w.routeTableId)
        ?.find((r) => r.destination.toLowerCase() === w.destination.toLowerCase());
      return route?.networkInterfaceId !== w.networkInterfaceId || route.state !== 'active';
    });
  }
  return pending;
}
