import type { Config } from '../config/schema.ts';
import { EC2_WRITE_BUCKET } from './act.ts';

/**
 * How long the controller's invocations take and when their evaluations start: the Lambda timeout a
 * configuration needs, and the slots of a scheduled invocation.
 */

/** Lambda's maximum timeout (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html). */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

/** Time a run keeps after its last route write to read the routes back and store the outcome. */
export const OUTCOME_ROOM_MS = 10_000;

/**
 * How long one evaluation may take: a probe (at most controller.probeTimeout) plus reads and writes, 60 s or
 * probeTimeout + 30 s if longer.
 */
const evaluationMs = (controller: Config['controller']): number =>
  Math.max(60, controller.probeTimeout + 30) * 1000;

/**
 * The controller Lambda's timeout, in seconds. One evaluation takes at most evaluationMs. A scheduled
 * invocation also re-checks what its evaluation asks it to (a failure seen fewer than unhealthyThreshold
 * times): in economy mode it gets a second evaluation's time for that; in fast mode it keeps evaluating until
 * the next scheduled invocation takes over a schedule period after it started, so it needs that period plus
 * one evaluation. When every managed route (and Elastic IP) of the configuration may have to move at once (a
 * zone-wide loss) and that is more than EC2's burst of mutating calls, the invocation also needs the time to
 * write the rest at EC2's refill rate, plus the room to store the outcome; that part stops at Lambda's maximum
 * of 900 s. Beyond it, the writes that do not fit are left to the next invocation, which finds those routes
 * still on the lost member and repairs them first.
 */
export function controllerTimeoutSeconds(config: Config): number {
  const { controller } = config;
  const evaluation = evaluationMs(controller) / 1000;
  const base = (controller.fastMode.enabled ? controller.schedule : evaluation) + evaluation;
  const writes = config.pairs.reduce(
    (sum, p) => sum + p.routeTables.length * p.destinations.length + (p.elasticIp ? 1 : 0),
    0,
  );
  if (writes <= EC2_WRITE_BUCKET.capacity) return base;
  const writing =
    Math.ceil((writes - EC2_WRITE_BUCKET.capacity) / EC2_WRITE_BUCKET.refillPerSecond) +
    OUTCOME_ROOM_MS / 1000;
  return Math.max(base, Math.min(LAMBDA_MAX_TIMEOUT_SECONDS, base + writing));
}

/**
 * When a scheduled invocation starting at `startMs` with the given deadline starts its evaluations (epoch
 * ms), and until when it may start re-checks (`takeOver`). Economy: once, at the start. Fast mode: every
 * `interval` from the start, as many as fit in one schedule period, so the next scheduled invocation's first
 * evaluation (a period later) follows the last one after at most `interval`: the grid carries on across
 * invocations, give or take the Scheduler's delay, and no part of a period goes unwatched. Each invocation
 * anchors the grid at its own start, so that delay never accumulates. Nothing starts once the next scheduled
 * invocation has taken over, or when one more evaluation would not fit before the deadline.
 */
export function evaluationSlots(
  controller: Config['controller'],
  startMs: number,
  deadlineMs: number,
): { readonly slots: readonly number[]; readonly takeOver: number } {
  const takeOver = Math.min(startMs + controller.schedule * 1000, deadlineMs - evaluationMs(controller));
  if (!controller.fastMode.enabled) return { slots: [startMs], takeOver };
  const count = Math.ceil(controller.schedule / controller.fastMode.interval);
  const slots = Array.from({ length: count }, (_, k) => startMs + k * controller.fastMode.interval * 1000);
  return { slots: slots.filter((at, k) => k === 0 || at < takeOver), takeOver };
}
