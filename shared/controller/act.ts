import { associateElasticIp, readRouteTables, writeRoute } from '../aws/ec2.ts';
import { mapLimit, TokenBucket } from '../concurrency.ts';
import type { PairConfig } from '../config/schema.ts';
import type { Plan, RouteWrite } from '../domain/plan.ts';
import { ThrottledError } from '../errors.ts';
import type { ControllerDeps, RouteChange } from './types.ts';

/**
 * EC2's request bucket for mutating actions: 50 calls at once, then 5 a second, per action, per account and
 * Region (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html). ReplaceRoute, CreateRoute
 * and AssociateAddress each have their own bucket, but one run shares this one budget among them all: other
 * tools (the resize workflow, operators, infrastructure pipelines) spend the same buckets, and a run that
 * repairs missing routes needs both route actions at once, so planning for one bucket is the safe side.
 */
export const EC2_WRITE_BUCKET = { capacity: 50, refillPerSecond: 5 } as const;

/** Writes in flight at once. The budget paces them; this only bounds open connections during the burst. */
export const ROUTE_WRITE_CONCURRENCY = 16;

/** Read-back attempts after writing: DescribeRouteTables may briefly show the old target (eventual consistency). */
export const CONFIRM_DELAYS_MS: readonly number[] = [0, 500, 1000, 2000];

export interface ActResult {
  readonly routesChanged: readonly RouteChange[];
  readonly elasticIpMoved: boolean;
  /** writes that did not read back as written; the next run repairs them */
  readonly unconfirmed: readonly RouteWrite[];
  /** writes (or the Elastic IP move) that failed or were never made, with the reason; the next run repairs them */
  readonly failures: readonly string[];
}

type Move = Extract<Plan, { routes: readonly RouteWrite[] }>;

/** One pair's move, to be carried out with the run's other moves. */
export interface MoveJob {
  readonly pair: PairConfig;
  readonly plan: Move;
  /** lower goes first (writePriority in shared/decide/priority.ts) */
  readonly priority: number;
}

/** One mutating call of the run: a route write or an Elastic IP association. */
type Write =
  | { readonly pair: string; readonly kind: 'route'; readonly write: RouteWrite }
  | {
      readonly pair: string;
      readonly kind: 'elastic-ip';
      readonly allocationId: string;
      readonly eni: string;
    };

interface PairProgress {
  readonly job: MoveJob;
  remaining: number;
  readonly changed: RouteChange[];
  readonly written: RouteWrite[];
  readonly failures: string[];
  elasticIpMoved: boolean;
  readonly done: (result: Promise<ActResult>) => void;
}

/**
 * Carry out the moves of one run through one write budget: every pair's route writes (and Elastic IP moves)
 * in priority order, paced to EC2's mutating bucket, so that a zone-wide loss moves its routes at the rate
 * EC2 allows instead of having most writes throttled. A write EC2 still throttles after the SDK's retries
 * waits for the budget and is tried again, until `stopAt`; whatever is not written by then is reported and
 * left for the next run, which sees the route still on the old member and repairs it (the intent is already
 * stored). Each pair's tables are read back as soon as its own writes are done, while the writes of the other
 * pairs go on: reads use a separate, bigger bucket and never hold a write back.
 * @param stopAt epoch ms (deps.clock) after which no write starts
 * @returns each pair's outcome, by pair name
 */
export function actAll(
  deps: ControllerDeps,
  jobs: readonly MoveJob[],
  options: {
    readonly stopAt: number;
    readonly budget?: TokenBucket;
    /** called after each write (keeps the writer lease) */
    readonly afterWrite?: () => Promise<void>;
  },
): Map<string, Promise<ActResult>> {
  const budget = options.budget ?? new TokenBucket(deps.clock, EC2_WRITE_BUCKET);
  const results = new Map<string, Promise<ActResult>>();
  const progress = new Map<string, PairProgress>();
  const queue: Write[] = [];
  const ordered = [...jobs].sort((a, b) => a.priority - b.priority);
  for (const job of ordered) {
    const name = job.pair.name;
    const writes: Write[] = job.plan.routes.map((write) => ({ pair: name, kind: 'route', write }));
    const eni = job.plan.routes[0]?.networkInterfaceId ?? job.plan.targetEni;
    if (job.plan.moveElasticIp && job.pair.elasticIp && eni) {
      writes.push({ pair: name, kind: 'elastic-ip', allocationId: job.pair.elasticIp.allocationId, eni });
    }
    queue.push(...writes);
    let done: (result: Promise<ActResult>) => void = () => {};
    results.set(
      name,
      new Promise<ActResult>((resolve) => {
        done = resolve;
      }),
    );
    progress.set(name, {
      job,
      remaining: writes.length,
      changed: [],
      written: [],
      failures: [],
      elasticIpMoved: false,
      done,
    });
  }

  const finish = (state: PairProgress) => {
    state.done(
      confirm(deps, state.written).then((unconfirmed) => ({
        routesChanged: state.changed,
        elasticIpMoved: state.elasticIpMoved,
        unconfirmed,
        failures: state.failures,
      })),
    );
  };
  const settle = (item: Write, outcome: { error: string } | { action?: 'replaced' | 'created' }) => {
    const state = progress.get(item.pair) as PairProgress;
    if ('error' in outcome) state.failures.push(outcome.error);
    else if (item.kind === 'elastic-ip') state.elasticIpMoved = true;
    else if (outcome.action) {
      state.written.push(item.write);
      state.changed.push({
        routeTableId: item.write.routeTableId,
        destination: item.write.destination,
        to: state.job.plan.to,
        action: outcome.action,
      });
    }
    state.remaining -= 1;
    if (state.remaining === 0) finish(state);
  };
  for (const state of progress.values()) if (state.remaining === 0) finish(state);

  const worker = async () => {
    while (queue.length > 0) {
      // The token first, then the most urgent write waiting at that moment, so urgency is never overtaken.
      if (!(await budget.take(options.stopAt))) {
        for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
          settle(item, { error: `${describe(item)}: not written before the invocation's deadline` });
        }
        return;
      }
      const item = queue.shift();
      if (item === undefined) return;
      try {
        if (item.kind === 'route') settle(item, { action: await writeRoute(deps.clients.ec2, item.write) });
        else {
          await associateElasticIp(deps.clients.ec2, item.allocationId, item.eni);
          settle(item, {});
        }
      } catch (error) {
        if (error instanceof ThrottledError) {
          // The account's bucket is empty (others spend it too): wait for it to refill, then try again.
          budget.empty();
          queue.unshift(item);
          continue;
        }
        deps.log.warn({ err: error, pair: item.pair, write: describe(item) }, 'write failed');
        settle(item, { error: `${describe(item)}: ${(error as Error).message}` });
      }
      await options.afterWrite?.();
    }
  };
  void mapLimit(
    Array.from({ length: Math.min(ROUTE_WRITE_CONCURRENCY, queue.length) }),
    ROUTE_WRITE_CONCURRENCY,
    worker,
  );
  return results;
}

const describe = (item: Write): string =>
  item.kind === 'route'
    ? `${item.write.routeTableId} ${item.write.destination}`
    : `Elastic IP ${item.allocationId}`;

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
