import { afterEach, beforeEach, expect, it } from 'vitest';
import { handleStep } from '../../functions/resize/handler.ts';
import { loadConfigFile } from '../../shared/config/file.ts';
import { UnhealthyTargetError } from '../../shared/errors.ts';
import type { ResizeContext } from '../../shared/resize/types.ts';
import { controllerDepsOf, createSimAccount, type SimAccount } from '../../sim/account.ts';

/**
 * The controller answers a refused failover instead of throwing it (the operator's answer); the resize
 * workflow, which moves traffic through that same failover, must still stop on it.
 */

let account: SimAccount;

beforeEach(async () => {
  account = await createSimAccount(loadConfigFile('examples/pairs.yaml'));
});
afterEach(async () => {
  await account.close();
});

/** Run `work` while virtual time moves, until it settles. */
async function settle<T>(work: () => Promise<T>): Promise<T> {
  let outcome: { value: T } | { error: unknown } | undefined;
  work().then(
    (value) => {
      outcome = { value };
    },
    (error: unknown) => {
      outcome = { error };
    },
  );
  for (let i = 0; i < 600 && outcome === undefined; i++)
    await account.clock.runUntil(account.clock.now() + 1000);
  if (outcome === undefined) throw new Error('the step did not finish within 10 virtual minutes');
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}

const step = (event: Record<string, unknown>) =>
  settle(() => handleStep(event, { awsRequestId: 'test' }, controllerDepsOf(account)));

it('stops the resize failover step with UnhealthyTargetError when the controller refuses the move, moving nothing', async () => {
  const ctx = (await step({
    step: 'preflight',
    request: { pair: 'branch-a', instanceType: 'c6in.xlarge' },
    execution: 'resize-branch-a-20260101T000000Z',
  })) as ResizeContext;
  account.world.applyFault(account.world.member('branch-a', ctx.first), 'daemon-down');

  await expect(step({ step: 'failover', ctx })).rejects.toThrow(UnhealthyTargetError);
  await expect(step({ step: 'failover', ctx })).rejects.toThrow(
    new RegExp(`^refused failover of branch-a to ${ctx.first}: `),
  );
  expect(account.stats.calls.get('EC2 ReplaceRoute') ?? 0).toBe(0);
});
