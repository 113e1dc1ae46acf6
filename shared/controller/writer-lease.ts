import type { StateStore } from '../aws/state-store.ts';
import { TokenBucket } from '../concurrency.ts';
import { EC2_WRITE_BUCKET } from './act.ts';
import type { ControllerDeps } from './types.ts';

/**
 * The writer lease as the controller's runs hold it: one run at a time spends the account's EC2 write budget,
 * taking the lease before its first write and extending it while it writes.
 */

/** What the runs of one invocation share: the write budget, the deadline and the writer lease. */
export interface RunWrites {
  readonly store: StateStore;
  budget: TokenBucket;
  /** epoch ms: the invocation's deadline, and the writer lease's expiry while this invocation holds it */
  readonly deadline: number;
  /** epoch ms after which no write starts */
  readonly stopAt: number;
  /** who this invocation is, as the writer lease's owner */
  readonly owner: string;
  holding: boolean;
  /** epoch ms of the last time the lease was taken or extended */
  renewedAt: number;
}

/**
 * How long the writer lease holds without being extended, and how often its holder extends it while it works:
 * a holder that dies blocks others' writes for at most this long.
 */
export const WRITER_LEASE_MS = 60_000;
const WRITER_LEASE_RENEW_MS = 15_000;

/** Take or extend the writer lease; false when someone else holds it. */
export async function holdWriterLease(deps: ControllerDeps, run: RunWrites): Promise<boolean> {
  const now = deps.clock.now();
  const lease = await run.store.takeWriterLease(
    run.owner,
    Math.min(run.deadline, now + WRITER_LEASE_MS),
    now,
  );
  if (lease === undefined) {
    run.holding = false;
    return false;
  }
  // The account's bucket is as the last holder left it, refilled since.
  if (!run.holding && lease.level) run.budget = new TokenBucket(deps.clock, EC2_WRITE_BUCKET, lease.level);
  run.holding = true;
  run.renewedAt = now;
  return true;
}

/** While writing, extend the writer lease every so often (a failed extension is left to the next one). */
export async function keepWriterLease(deps: ControllerDeps, run: RunWrites): Promise<void> {
  if (!run.holding || deps.clock.now() - run.renewedAt < WRITER_LEASE_RENEW_MS) return;
  run.renewedAt = deps.clock.now();
  await holdWriterLease(deps, run).catch((error: unknown) => {
    deps.log.warn({ err: error }, 'writer lease not extended');
    return true;
  });
}
