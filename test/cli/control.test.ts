import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CommandOutcome, runFailover, runPause, runResume } from '../../cli/control.ts';
import { OPERATOR_EXIT } from '../../cli/operator.ts';
import { runStatus, type StatusReport } from '../../cli/status.ts';
import { StateStore } from '../../shared/aws/state-store.ts';
import { loadConfigFile } from '../../shared/config/file.ts';
import {
  CALLER,
  capture,
  createOperatorAccount,
  errors,
  type OperatorAccount,
  settle,
  text,
} from './operator-account.ts';

/**
 * `vpn-failover failover`, `pause` and `resume` against the simulated account: the command invokes the controller
 * function (here the real handler, in-process, against the simulated account) and prints its answer. A refusal
 * exits 3 with the reason on one line; a Lambda error exits 1 with the Lambda's message on one line.
 */

const CONFIG = 'examples/pairs.yaml';
const config = loadConfigFile(CONFIG);
const pair = config.pairs[0] as (typeof config.pairs)[number];
let op: OperatorAccount;

beforeEach(async () => {
  op = await createOperatorAccount(config);
});
afterEach(async () => {
  await op.close();
});

/** Where each managed route of the pair points in the simulated account, by member. */
function routesOn(): string[] {
  const { world } = op.account;
  const enis = new Map([
    [world.instances.get(pair.primary.instanceId)?.routeTargetEni, 'primary'],
    [world.instances.get(pair.standby.instanceId)?.routeTargetEni, 'standby'],
  ]);
  return pair.routeTables.flatMap((table) =>
    pair.destinations.map((destination) => {
      const route = world.routeTables.get(table)?.routes.get(destination);
      return enis.get(route?.target.kind === 'eni' ? route.target.eni : undefined) ?? 'elsewhere';
    }),
  );
}

const member = (role: 'primary' | 'standby') => {
  const instance = op.account.world.instances.get(pair[role].instanceId);
  if (!instance) throw new Error(`no ${role} in the simulated account`);
  return instance;
};

const stopMember = async (role: 'primary' | 'standby') => {
  op.account.world.applyFault(member(role), 'stop');
  await op.account.clock.runUntil(op.account.clock.now() + 120_000);
};

describe('vpn-failover failover', () => {
  it('moves every managed route to the standby and says what moved (exit 0)', async () => {
    const io = capture();

    const code = await settle(op.account, () => runFailover('branch-a', { to: 'standby' }, io, op.deps));

    expect(code).toBe(OPERATOR_EXIT.ok);
    expect(op.invoked).toEqual([{ action: 'failover', pair: 'branch-a', to: 'standby', force: false }]);
    expect(routesOn()).toEqual(['standby', 'standby', 'standby', 'standby']);
    expect(text(io)).toContain('branch-a: traffic moved primary -> standby (4 routes changed)');
    expect(text(io)).toMatch(/why: .*operator/i);
  });

  it('--json prints the outcome and the controller’s summary of the pair', async () => {
    const io = capture();

    await settle(op.account, () => runFailover('branch-a', { to: 'standby', json: true }, io, op.deps));

    const outcome = JSON.parse(text(io)) as CommandOutcome;
    expect(outcome).toMatchObject({
      command: 'failover',
      pair: 'branch-a',
      outcome: 'done',
      summary: { pair: 'branch-a', plan: 'failover', from: 'primary', to: 'standby', moveStarted: true },
    });
    expect(outcome.summary?.routesChanged).toHaveLength(4);
  });

  it('refused (the target is stopped, no --force): exits 3 with the controller’s reason on one line, nothing moves', async () => {
    await stopMember('standby');
    const io = capture();

    const code = await settle(op.account, () => runFailover('branch-a', { to: 'standby' }, io, op.deps));

    expect(code).toBe(OPERATOR_EXIT.refused);
    expect(errors(io)).toMatch(/^vpn-failover failover: refused: .*standby.*\n$/);
    expect(errors(io).trimEnd().split('\n')).toHaveLength(1);
    expect(text(io)).toBe('');
    expect(routesOn()).toEqual(['primary', 'primary', 'primary', 'primary']);
  });

  it('--force moves traffic to a member the controller would refuse, and says so in the command it sends', async () => {
    op.account.world.applyFault(member('standby'), 'daemon-down');
    await op.account.clock.runUntil(op.account.clock.now() + 60_000);
    const refused = capture();
    expect(await settle(op.account, () => runFailover('branch-a', { to: 'standby' }, refused, op.deps))).toBe(
      OPERATOR_EXIT.refused,
    );
    const io = capture();

    const code = await settle(op.account, () =>
      runFailover('branch-a', { to: 'standby', force: true }, io, op.deps),
    );

    expect(code).toBe(OPERATOR_EXIT.ok);
    expect(op.invoked.at(-1)).toEqual({ action: 'failover', pair: 'branch-a', to: 'standby', force: true });
    expect(routesOn()).toEqual(['standby', 'standby', 'standby', 'standby']);
    expect(text(io)).toContain('branch-a: traffic moved primary -> standby');
    expect(text(io)).toMatch(/why: forced past: standby .* unhealthy/);
  });

  it('a forced move whose routes do not read back (the target is stopped) prints what moved and exits 1', async () => {
    await stopMember('standby');
    const io = capture();

    const code = await settle(op.account, () =>
      runFailover('branch-a', { to: 'standby', force: true }, io, op.deps),
    );

    expect(code).toBe(OPERATOR_EXIT.failed);
    expect(text(io)).toContain('branch-a: traffic moved primary -> standby (4 routes changed)');
    expect(errors(io)).toBe('vpn-failover failover: incomplete: 4 routes not confirmed yet\n');
  });

  it('refused with --json: the outcome says refused and why, exit 3', async () => {
    await stopMember('standby');
    const io = capture();

    const code = await settle(op.account, () =>
      runFailover('branch-a', { to: 'standby', json: true }, io, op.deps),
    );

    expect(code).toBe(OPERATOR_EXIT.refused);
    expect(JSON.parse(text(io))).toMatchObject({
      command: 'failover',
      outcome: 'refused',
      reason: expect.stringMatching(/standby/),
    });
  });

  it('a pair the deployment does not manage is refused (exit 3)', async () => {
    const io = capture();

    expect(await settle(op.account, () => runFailover('branch-z', { to: 'standby' }, io, op.deps))).toBe(
      OPERATOR_EXIT.refused,
    );
    expect(errors(io)).toMatch(/^vpn-failover failover: refused: .*branch-z/);
  });

  it('without --to primary|standby invokes nothing (exit 2)', async () => {
    const io = capture();

    expect(await settle(op.account, () => runFailover('branch-a', { to: 'backup' }, io, op.deps))).toBe(
      OPERATOR_EXIT.invalid,
    );
    expect(errors(io)).toBe(
      'vpn-failover failover: which member? pass --to primary or --to standby (got "backup")\n',
    );
    expect(op.invoked).toEqual([]);
  });
});

describe('vpn-failover pause and resume', () => {
  it('pause sends the hold with who asked (the STS caller), and status shows it with the paused alarm', async () => {
    const io = capture();

    const code = await settle(op.account, () =>
      runPause('branch-a', { for: '2h', reason: 'carrier maintenance' }, io, op.deps),
    );

    expect(code).toBe(OPERATOR_EXIT.ok);
    expect(op.invoked).toEqual([
      { action: 'pause', pair: 'branch-a', for: '2h', reason: 'carrier maintenance', by: CALLER },
    ]);
    const until = new Date(op.account.clock.now() + 2 * 3600_000).toISOString().slice(0, 16);
    expect(text(io)).toContain(`branch-a: paused until ${until}`);
    expect(text(io)).toContain(`by ${CALLER}: carrier maintenance`);

    const shown = capture();
    await settle(op.account, () => runStatus('branch-a', { config: CONFIG, json: true }, shown, op.deps));
    const [status] = (JSON.parse(text(shown)) as StatusReport).pairs;
    expect(status?.pause).toMatchObject({ reason: 'carrier maintenance', by: CALLER });
    expect(status?.alarms).toContain('paused');
  });

  it('pause names $USER when STS cannot say who is asking', async () => {
    mockClient(op.clients.sts).on(GetCallerIdentityCommand).rejects(new Error('no route to sts'));

    await settle(op.account, () => runPause('branch-a', { for: '30m', reason: 'test' }, capture(), op.deps));

    expect(op.invoked).toEqual([
      { action: 'pause', pair: 'branch-a', for: '30m', reason: 'test', by: 'fallback-user' },
    ]);
  });

  it('resume lifts the hold: status shows no pause afterwards', async () => {
    await settle(op.account, () => runPause('branch-a', { for: '2h', reason: 'work' }, capture(), op.deps));
    const io = capture();

    expect(await settle(op.account, () => runResume('branch-a', {}, io, op.deps))).toBe(OPERATOR_EXIT.ok);

    expect(op.invoked.at(-1)).toEqual({ action: 'resume', pair: 'branch-a', by: CALLER });
    expect(text(io)).toBe('branch-a: resumed: automatic moves are back on\n');
    const memory = (
      await new StateStore({ dynamo: op.clients.dynamo, tableName: op.account.tableName }).loadPair(
        'branch-a',
      )
    ).memory;
    expect(memory.pause).toBeUndefined();
  });

  it('a pause the controller rejects as malformed (beyond 7 days) is a Lambda error: exit 1, its message on one line', async () => {
    const io = capture();

    const code = await settle(op.account, () =>
      runPause('branch-a', { for: '10d', reason: 'long' }, io, op.deps),
    );

    expect(code).toBe(OPERATOR_EXIT.failed);
    expect(errors(io)).toMatch(
      /^vpn-failover pause: the controller failed \(BadEventError\): malformed pause command: .*7d.*\n$/,
    );
    expect(errors(io).trimEnd().split('\n')).toHaveLength(1);
  });

  it('pause without --for or --reason invokes nothing (exit 2)', async () => {
    const noDuration = capture();
    const noReason = capture();

    expect(await settle(op.account, () => runPause('branch-a', { reason: 'x' }, noDuration, op.deps))).toBe(
      2,
    );
    expect(await settle(op.account, () => runPause('branch-a', { for: '1h' }, noReason, op.deps))).toBe(2);

    expect(errors(noDuration)).toContain('how long? pass --for DURATION');
    expect(errors(noReason)).toContain('why? pass --reason');
    expect(op.invoked).toEqual([]);
  });
});
