import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Check, runDoctor } from '../../cli/doctor.ts';
import { OPERATOR_EXIT } from '../../cli/operator.ts';
import { loadConfigFile } from '../../shared/config/load.ts';
import { capture, createOperatorAccount, type OperatorAccount, settle, text } from './operator-account.ts';

/** `vpn-failover doctor` against the simulated account: each check PASS/WARN/FAIL/SKIP with its fix. */

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

async function doctor(): Promise<{ code: number; checks: Check[] }> {
  const io = capture();
  const code = await settle(op.account, () => runDoctor({ config: CONFIG, json: true }, io, op.deps));
  return { code, checks: (JSON.parse(text(io)) as { checks: Check[] }).checks };
}

const failing = (checks: readonly Check[]) => checks.filter((c) => c.status === 'FAIL');
const member = (role: 'primary' | 'standby') => {
  const instance = op.account.world.instances.get(pair[role].instanceId);
  if (!instance) throw new Error(`no ${role} in the simulated account`);
  return instance;
};

describe('vpn-failover doctor', () => {
  it('passes a healthy deployed pair: every check PASS, exit 0', async () => {
    const { code, checks } = await doctor();

    expect(code).toBe(OPERATOR_EXIT.ok);
    expect(checks.filter((c) => c.status !== 'PASS')).toEqual([]);
    expect(new Set(checks.map((c) => c.check))).toEqual(
      new Set([
        'stack',
        'config-hash',
        'instance',
        'source-dest-check',
        'security-group',
        'esp',
        'ssm-agent',
        'tunnel',
        'route',
      ]),
    );
    expect(checks.filter((c) => c.check === 'route')).toHaveLength(4);
  });

  it('FAILs a member ENI with source/destination check on, with the command that turns it off (exit 1)', async () => {
    member('standby').sourceDestCheck = true;
    const eni = member('standby').routeTargetEni;

    const { code, checks } = await doctor();

    expect(code).toBe(OPERATOR_EXIT.failed);
    expect(failing(checks)).toEqual([
      {
        status: 'FAIL',
        check: 'source-dest-check',
        subject: `branch-a standby ${pair.standby.instanceId} ${eni}`,
        detail: 'source/destination check is ON: the member drops the traffic the routes send it',
        fix: `aws ec2 modify-network-interface-attribute --network-interface-id ${eni} --no-source-dest-check`,
      },
    ]);
  });

  it('prints each check on one line and the fix on the next', async () => {
    member('primary').sourceDestCheck = true;
    const io = capture();

    await settle(op.account, () => runDoctor({ config: CONFIG }, io, op.deps));

    const lines = text(io).split('\n');
    const at = lines.findIndex((l) => l.startsWith('FAIL  source-dest-check'));
    expect(lines[at + 1]).toMatch(
      /^ {6}fix: aws ec2 modify-network-interface-attribute --network-interface-id eni-\S+ --no-source-dest-check$/,
    );
    expect(text(io)).toMatch(/checks: \d+ PASS, 0 WARN, 1 FAIL, 0 SKIP\n$/);
  });

  it('FAILs security groups without UDP 4500, and only WARNs about ESP, which NAT-T does without', async () => {
    op.rules = [{ IpProtocol: 'udp', FromPort: 500, ToPort: 500 }];

    const { code, checks } = await doctor();

    expect(code).toBe(OPERATOR_EXIT.failed);
    expect(failing(checks).map((c) => [c.check, c.detail])).toEqual([
      ['security-group', expect.stringContaining('do not allow inbound UDP 4500')],
      ['security-group', expect.stringContaining('do not allow inbound UDP 4500')],
    ]);
    expect(checks.filter((c) => c.status === 'WARN').map((c) => c.check)).toEqual(['esp', 'esp']);
  });

  it('FAILs a stopped member and one whose SSM agent lost its connection', async () => {
    member('standby').agentFault = true;
    member('standby').agentLostAt = op.account.clock.now();
    op.account.world.applyFault(member('primary'), 'stop');
    await op.account.clock.runUntil(op.account.clock.now() + 120_000);

    const { checks } = await doctor();

    expect(failing(checks).map((c) => `${c.check} ${c.subject.split(' ')[1]}: ${c.detail}`)).toEqual(
      expect.arrayContaining([
        'instance primary: stopped, not running',
        'ssm-agent standby: SSM agent ConnectionLost',
      ]),
    );
  });

  it('FAILs a managed route someone pointed outside the pair, with the command that points it back', async () => {
    const [table] = pair.routeTables;
    op.account.world.pointRouteOutside(table as string, '10.50.0.0/16');
    // DescribeRouteTables shows a route change after EC2's propagation delay.
    await op.account.clock.runUntil(op.account.clock.now() + 60_000);

    const { code, checks } = await doctor();

    expect(code).toBe(OPERATOR_EXIT.failed);
    expect(failing(checks)).toEqual([
      {
        status: 'FAIL',
        check: 'route',
        subject: `branch-a ${table} 10.50.0.0/16`,
        detail: expect.stringMatching(
          /^points at nat-\S+, outside the pair: the controller leaves it alone$/,
        ),
        fix: `aws ec2 replace-route --route-table-id ${table} --destination-cidr-block 10.50.0.0/16 --network-interface-id ${member('primary').routeTargetEni}`,
      },
    ]);
  });

  it('FAILs when the deployed configuration is not the file (ConfigHash differs)', async () => {
    op.outputs = { ...(op.outputs as Record<string, string>), ConfigHash: 'ffffffffffffffff' };

    const { checks } = await doctor();

    expect(failing(checks)).toEqual([
      expect.objectContaining({
        check: 'config-hash',
        detail: expect.stringContaining('ConfigHash ffffffffffffffff'),
      }),
    ]);
  });

  it('works before deploy: no stack is a WARN with the deploy command, the account checks still run (exit 0)', async () => {
    op.outputs = undefined;

    const { code, checks } = await doctor();

    expect(code).toBe(OPERATOR_EXIT.ok);
    expect(checks.slice(0, 2)).toEqual([
      expect.objectContaining({
        status: 'WARN',
        check: 'stack',
        fix: 'npx cdk deploy -c config=examples/pairs.yaml',
      }),
      expect.objectContaining({ status: 'SKIP', check: 'config-hash' }),
    ]);
    expect(checks.filter((c) => c.check === 'instance').map((c) => c.status)).toEqual(['PASS', 'PASS']);
  });
});
