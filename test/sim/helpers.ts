import { afterEach } from 'vitest';
import { parseConfig } from '../../shared/config/load.ts';
import type { Config, ConfigInput } from '../../shared/config/schema.ts';
import { createSimAccount, type SimAccount, type SimAccountOptions } from '../../sim/account.ts';
import { parseScenario, type Scenario } from '../../sim/scenario.ts';

/** Helpers for the simulator's tests. */

/**
 * Top-level configuration without the member agent: the controller learns of soft failures only by polling
 * (its schedule, fast mode, re-checks), for tests of that path.
 */
export const POLL_ONLY = { agent: { enabled: false } } as const satisfies Partial<ConfigInput>;

/** The example pair (examples/pairs.yaml) with overrides. */
export function pairConfig(
  overrides: Partial<ConfigInput['pairs'][number]> = {},
  top: Partial<ConfigInput> = {},
): Config {
  return parseConfig({
    pairs: [
      {
        name: 'branch-a',
        primary: { instanceId: 'i-0123456789abcdef0' },
        standby: { instanceId: 'i-0fedcba9876543210' },
        routeTables: ['rtb-0a1b2c3d4e5f60718', 'rtb-0f1e2d3c4b5a69788'],
        destinations: ['10.50.0.0/16', '192.168.10.0/24'],
        probe: { kind: 'strongswan', minSas: 1 },
        tunnel: { namespace: 'VpnFailover', metricName: 'TunnelUp', period: 60, datapointsToBreach: 2 },
        ...overrides,
      },
    ],
    ...top,
  });
}

/** A scenario over the example pair. */
export function scenarioOf(document: Record<string, unknown>, config: Config = pairConfig()): Scenario {
  return parseScenario({ name: 'test', duration: '15m', ...document, config });
}

/** Accounts created by a test, closed after it. */
export function useAccounts(): (config?: Config, options?: SimAccountOptions) => Promise<SimAccount> {
  const open: SimAccount[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((a) => a.close()));
  });
  return async (config = pairConfig(), options = {}) => {
    const account = await createSimAccount(config, options);
    open.push(account);
    return account;
  };
}

/** Let `ms` of virtual time pass. */
export async function advance(account: SimAccount, ms: number): Promise<void> {
  await account.clock.runUntil(account.clock.now() + ms);
}

/** Drive the clock until `work` settles; returns its value or throws its error. */
export async function settle<T>(account: SimAccount, work: Promise<T>): Promise<T> {
  let done = false;
  const observed = work.finally(() => {
    done = true;
  });
  observed.catch(() => {});
  while (!done) await account.clock.runUntil(account.clock.now() + 100);
  return observed;
}
