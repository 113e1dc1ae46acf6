import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Check, runDoctor } from '../../cli/doctor.ts';
import { OPERATOR_EXIT } from '../../cli/operator.ts';
import { loadConfigFile } from '../../shared/config/file.ts';
import { AGENT_SILENT_AFTER_MS } from '../../shared/domain/agent.ts';
import { STACK_OUTPUTS } from '../../shared/telemetry-names.ts';
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

  describe('with the member agent deployed (the stack has the AgentTableName output)', () => {
    const AGENT_TABLE = 'VpnFailover-AgentReports';
    const POLICY = 'arn:aws:iam::123456789012:policy/VpnFailover-Agent';
    const DOCUMENT = 'VpnFailover-InstallAgent';

    beforeEach(async () => {
      const dynamo = op.account.clients.dynamo;
      await dynamo.send(
        new CreateTableCommand({
          TableName: AGENT_TABLE,
          KeySchema: [{ AttributeName: 'member', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'member', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      while (
        (await dynamo.send(new DescribeTableCommand({ TableName: AGENT_TABLE }))).Table?.TableStatus !==
        'ACTIVE'
      ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      op.outputs = {
        ...(op.outputs as Record<string, string>),
        [STACK_OUTPUTS.agentTableName]: AGENT_TABLE,
        [STACK_OUTPUTS.agentPolicyArn]: POLICY,
        [STACK_OUTPUTS.agentDocumentName]: DOCUMENT,
      };
    });

    /** The member's agent writes its report under its instance ARN, `ageMs` ago. */
    const report = (role: 'primary' | 'standby', ageMs: number) => {
      const now = op.account.clock.now();
      const id = pair[role].instanceId;
      return op.account.clients.dynamo.send(
        new PutCommand({
          TableName: AGENT_TABLE,
          Item: {
            member: `arn:aws:ec2:eu-west-1:123456789012:instance/${id}`,
            instanceId: id,
            verdict: 'healthy',
            detail: 'healthy: 1 installed CHILD SA',
            exitStatus: 0,
            tunnelUp: 1,
            since: now - ageMs - 3_600_000,
            at: now - ageMs,
            kind: 'heartbeat',
            seq: 40,
            agentVersion: '1.0.0',
            expiresAt: Math.floor(now / 1000) + 86_400,
          },
        }),
      );
    };
    const agentChecks = (checks: readonly Check[]) =>
      checks
        .filter((c) => c.check === 'agent' || c.check === 'tunnel')
        .map((c) => [c.check, c.status, c.subject]);

    it('PASSes a member whose agent reported within the silence limit, instead of its tunnel metric', async () => {
      await report('primary', 30_000);
      await report('standby', AGENT_SILENT_AFTER_MS - 10_000);

      const { code, checks } = await doctor();

      expect(code).toBe(OPERATOR_EXIT.ok);
      expect(agentChecks(checks)).toEqual([
        ['agent', 'PASS', `branch-a primary ${pair.primary.instanceId}`],
        ['agent', 'PASS', `branch-a standby ${pair.standby.instanceId}`],
      ]);
      expect(checks.find((c) => c.check === 'agent')?.detail).toMatch(
        /^agent reporting: healthy at \S+Z \(heartbeat, agent 1\.0\.0\)$/,
      );
    });

    it('WARNs about a member whose agent is silent or never reported, with where to look, and still checks its tunnel metric', async () => {
      await report('primary', AGENT_SILENT_AFTER_MS + 60_000);

      const { code, checks } = await doctor();

      expect(code).toBe(OPERATOR_EXIT.ok);
      expect(agentChecks(checks)).toEqual([
        ['agent', 'WARN', `branch-a primary ${pair.primary.instanceId}`],
        ['tunnel', 'PASS', `branch-a primary ${pair.primary.instanceId}`],
        ['agent', 'WARN', `branch-a standby ${pair.standby.instanceId}`],
        ['tunnel', 'PASS', `branch-a standby ${pair.standby.instanceId}`],
      ]);
      const [stale, missing] = checks.filter((c) => c.check === 'agent');
      expect(stale?.detail).toMatch(
        /^its agent's last report is 4m old \(.*Z\), over the 3m after which the controller raises agent-silent$/,
      );
      expect(missing?.detail).toBe(
        `no report from its agent in ${AGENT_TABLE}: failures are detected at the probe's pace`,
      );
      for (const warned of [stale, missing]) {
        expect(warned?.fix).toBe(
          `on the instance: systemctl status vpn-failover-agent; check the instance's association with the agent document ${DOCUMENT} (aws ssm list-associations); and that its instance role has the agent policy ${POLICY}`,
        );
      }
    });

    it('WARNs that the agent table could not be read when it is not there, and checks the tunnel metric', async () => {
      op.outputs = {
        ...(op.outputs as Record<string, string>),
        [STACK_OUTPUTS.agentTableName]: 'NoSuchTable',
      };

      const { code, checks } = await doctor();

      expect(code).toBe(OPERATOR_EXIT.ok);
      const unread = checks.filter((c) => c.check === 'agent');
      expect(unread.map((c) => c.status)).toEqual(['WARN', 'WARN']);
      expect(unread[0]?.detail).toMatch(/^the agent table NoSuchTable could not be read: .*ResourceNotFound/);
      expect(unread[0]?.fix).toBe('check dynamodb:BatchGetItem on NoSuchTable is allowed');
      expect(checks.filter((c) => c.check === 'tunnel').map((c) => c.status)).toEqual(['PASS', 'PASS']);
    });

    it('keeps the tunnel metric check for a pair whose agent is turned off in the configuration', async () => {
      const off = { ...config, pairs: config.pairs.map((p) => ({ ...p, agent: { enabled: false } })) };
      const file = join(mkdtempSync(join(tmpdir(), 'doctor-')), 'agent-off.json');
      writeFileSync(file, JSON.stringify(off));
      const io = capture();

      await settle(op.account, () => runDoctor({ config: file, json: true }, io, op.deps));

      const checks = (JSON.parse(text(io)) as { checks: Check[] }).checks;
      expect(agentChecks(checks)).toEqual([
        ['tunnel', 'PASS', `branch-a primary ${pair.primary.instanceId}`],
        ['tunnel', 'PASS', `branch-a standby ${pair.standby.instanceId}`],
      ]);
    });
  });
});
