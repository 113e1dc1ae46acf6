import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import {
  DescribeAddressesCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeRouteTablesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  type CommandInvocation,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createClients } from '../../shared/aws/clients.ts';
import { StateStore } from '../../shared/aws/state-store.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { observePairs, PARTNER_GRACE_MS, SURVIVOR_PROBE_WAIT_MS } from '../../shared/controller/observe.ts';
import { runController } from '../../shared/controller/run.ts';
import type { ControllerDeps } from '../../shared/controller/types.ts';
import { decide } from '../../shared/decide/decide.ts';
import { initialMemory, type PairMemory } from '../../shared/domain/types.ts';
import { silentLogger } from '../../shared/logger.ts';
import { useLocalStateTable } from '../support/dynamo.ts';
import { steppingClock } from '../support/mock-fleet.ts';

const PRIMARY = 'i-0123456789abcdef0';
const STANDBY = 'i-0fedcba9876543210';
const ENI = { [PRIMARY]: 'eni-0a1b2c3d4e5f60001', [STANDBY]: 'eni-0f1e2d3c4b5a60002' } as Record<
  string,
  string
>;
const ADDRESS = { [PRIMARY]: '10.0.1.10', [STANDBY]: '10.0.2.20' } as Record<string, string>;
const TABLE = 'rtb-0a1b2c3d4e5f60718';
const DESTINATION = '10.50.0.0/16';
const PROBE_TIMEOUT_S = 20;

const config = parseConfig({
  controller: { probeTimeout: `${PROBE_TIMEOUT_S}s` },
  pairs: [
    {
      name: 'branch-a',
      primary: { instanceId: PRIMARY },
      standby: { instanceId: STANDBY },
      routeTables: [TABLE],
      destinations: [DESTINATION],
      probe: { kind: 'strongswan', minSas: 1 },
      tunnel: {},
    },
  ],
});
const pair = config.pairs[0] as (typeof config.pairs)[number];

const local = useLocalStateTable();
const ec2 = mockClient(EC2Client);
const ssm = mockClient(SSMClient);
const cloudwatch = mockClient(CloudWatchClient);
afterAll(() => {
  ec2.restore();
  ssm.restore();
  cloudwatch.restore();
});

/** Instance states EC2 reports (default running). */
let states: Record<string, string>;
/** SSM invocations per instance: what ListCommandInvocations shows for it (default Success with a peer line). */
let answer: (id: string, commandId: string) => CommandInvocation;

const success = (id: string, commandId: string, peerLine = ''): CommandInvocation => ({
  CommandId: commandId,
  InstanceId: id,
  Status: 'Success',
  StatusDetails: 'Success',
  CommandPlugins: [
    {
      Name: 'probe',
      Status: 'Success',
      ResponseCode: 0,
      Output: `healthy: 1 installed CHILD SAs (at least 1 required)\n${peerLine}`,
    },
  ],
});

beforeEach(() => {
  ec2.reset();
  ssm.reset();
  cloudwatch.reset();
  states = {};
  answer = (id, commandId) => success(id, commandId);
  ec2.on(DescribeInstanceStatusCommand).callsFake((input) => ({
    InstanceStatuses: (input.InstanceIds ?? []).map((id: string) => {
      const running = (states[id] ?? 'running') === 'running';
      const status = { Status: running ? 'ok' : 'not-applicable' };
      return {
        InstanceId: id,
        InstanceState: { Name: states[id] ?? 'running' },
        SystemStatus: status,
        InstanceStatus: status,
        AttachedEbsStatus: status,
      };
    }),
  }));
  ec2.on(DescribeRouteTablesCommand).resolves({
    RouteTables: [
      {
        RouteTableId: TABLE,
        Routes: [{ DestinationCidrBlock: DESTINATION, NetworkInterfaceId: ENI[PRIMARY], State: 'active' }],
      },
    ],
  });
  ec2.on(DescribeInstancesCommand).callsFake((input) => ({
    Reservations: [
      {
        Instances: (input.InstanceIds ?? []).map((id: string) => ({
          InstanceId: id,
          State: { Name: states[id] ?? 'running' },
          NetworkInterfaces: [
            {
              NetworkInterfaceId: ENI[id],
              PrivateIpAddress: ADDRESS[id],
              Attachment: { DeviceIndex: 0, NetworkCardIndex: 0 },
            },
          ],
        })),
      },
    ],
  }));
  const sent = new Map<string, string[]>();
  ssm.on(SendCommandCommand).callsFake((input) => {
    const commandId = `cmd-${sent.size + 1}`;
    sent.set(commandId, input.InstanceIds ?? []);
    return { Command: { CommandId: commandId } };
  });
  ssm.on(ListCommandInvocationsCommand).callsFake((input) => ({
    CommandInvocations: (sent.get(input.CommandId) ?? []).map((id) => answer(id, input.CommandId)),
  }));
  cloudwatch.on(GetMetricDataCommand).callsFake((input) => ({
    MetricDataResults: (input.MetricDataQueries ?? []).map((q: MetricDataQuery) => ({
      Id: q.Id,
      StatusCode: 'Complete',
      Timestamps: [
        new Date(Date.parse('2026-11-30T11:59:00Z')),
        new Date(Date.parse('2026-11-30T11:58:00Z')),
      ],
      Values: [1, 1],
    })),
  }));
});

function deps(clock = steppingClock(Date.parse('2026-11-30T12:00:00Z'))): ControllerDeps {
  return {
    clients: createClients({ region: 'eu-west-1', dynamoEndpoint: local.endpoint }),
    config,
    tableName: local.tableName,
    probeDocument: 'vpn-failover-probe',
    clock,
    log: silentLogger,
  };
}

/** The memory of a pair whose ENIs (and, optionally, addresses) were learnt on earlier runs. */
const learnt = (patch: Partial<PairMemory> = {}): Map<string, PairMemory> =>
  new Map([['branch-a', { ...initialMemory(), enis: { ...ENI }, ...patch }]]);

describe('observe: the hard-loss path never waits for a probe of a member EC2 reports not running', () => {
  it('does not probe a stopped active member, and decides the failover without waiting out the probe deadline', async () => {
    // Prepare: the primary is stopped; SSM would leave a command to it Pending until it timed out.
    states[PRIMARY] = 'stopped';
    answer = (id, commandId) =>
      id === PRIMARY
        ? { CommandId: commandId, InstanceId: id, Status: 'Pending', StatusDetails: 'Pending' }
        : success(id, commandId);
    const clock = steppingClock(Date.parse('2026-11-30T12:00:00Z'));
    const started = clock.now();

    // Act
    const observed = await observePairs(deps(clock), [pair], learnt({ addresses: { ...ADDRESS } }));

    // Assess
    const observation = observed.get('branch-a');
    if (observation === undefined) throw new Error('no observation');
    expect(ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([[STANDBY]]);
    expect(observation.probes?.primary).toEqual({
      instanceId: PRIMARY,
      outcome: 'unknown',
      detail: 'not probed: the instance is stopped',
      reply: 'unreadable',
    });
    expect(observation.probes?.standby.outcome).toBe('succeeded');
    expect(clock.now() - started).toBeLessThan(PROBE_TIMEOUT_S * 1000);
    const decision = decide({
      pair,
      observation,
      memory: initialMemory(),
      now: clock.now(),
      dryRun: false,
    });
    expect(decision.plan).toMatchObject({ kind: 'failover', trigger: 'hard-loss', to: 'standby' });
  });

  it(`waits only ${SURVIVOR_PROBE_WAIT_MS / 1000} s for a silent standby when the active is stopped, then moves traffic to it unverified`, async () => {
    // Prepare: the primary is stopped and the standby's SSM agent is offline (commands wait undelivered)
    states[PRIMARY] = 'stopped';
    answer = (id, commandId) => ({
      CommandId: commandId,
      InstanceId: id,
      Status: 'Pending',
      StatusDetails: 'Pending',
    });
    const clock = steppingClock(Date.parse('2026-11-30T12:00:00Z'));
    const started = clock.now();

    // Act
    const observation = (await observePairs(deps(clock), [pair], learnt({ addresses: { ...ADDRESS } }))).get(
      'branch-a',
    );

    // Assess
    if (observation === undefined) throw new Error('no observation');
    expect(clock.now() - started).toBe(SURVIVOR_PROBE_WAIT_MS);
    expect(observation.probes?.standby).toMatchObject({ outcome: 'unknown', reply: 'silent' });
    const decision = decide({ pair, observation, memory: initialMemory(), now: clock.now(), dryRun: false });
    expect(decision.plan).toMatchObject({ kind: 'failover', trigger: 'hard-loss', to: 'standby' });
    expect(decision.alarms.map((a) => a.kind)).toContain('moved-to-unverified');
  });

  it(`stops waiting for a silent member ${PARTNER_GRACE_MS / 1000} s after its partner answered, not the full probe timeout`, async () => {
    answer = (id, commandId) =>
      id === PRIMARY
        ? { CommandId: commandId, InstanceId: id, Status: 'Pending', StatusDetails: 'Pending' }
        : success(id, commandId, `peer ${ADDRESS[PRIMARY]} unreachable`);
    const clock = steppingClock(Date.parse('2026-11-30T12:00:00Z'));
    const started = clock.now();
    const observation = (await observePairs(deps(clock), [pair], learnt({ addresses: { ...ADDRESS } }))).get(
      'branch-a',
    );
    // the standby answers at the first poll (1 s); the primary is given up on 5 s later
    expect(clock.now() - started).toBe(1000 + PARTNER_GRACE_MS);
    expect(observation?.probes?.primary).toEqual({
      instanceId: PRIMARY,
      outcome: 'unknown',
      detail: `still Pending ${PARTNER_GRACE_MS / 1000} s after its partner ${STANDBY} answered`,
      reply: 'silent',
    });
  });

  it('waits the full probe timeout when both members run, so a slow answer is not taken for silence', async () => {
    answer = (id, commandId) => ({
      CommandId: commandId,
      InstanceId: id,
      Status: 'Pending',
      StatusDetails: 'Pending',
    });
    const clock = steppingClock(Date.parse('2026-11-30T12:00:00Z'));
    const started = clock.now();
    await observePairs(deps(clock), [pair], learnt({ addresses: { ...ADDRESS } }));
    expect(clock.now() - started).toBe(PROBE_TIMEOUT_S * 1000);
  });

  it('has the instance status answered before it sends any probe', async () => {
    // Prepare: a slow status read, and a record of what happened in which order
    const order: string[] = [];
    ec2.on(DescribeInstanceStatusCommand).callsFake(async (input) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      order.push('status answered');
      return {
        InstanceStatuses: (input.InstanceIds ?? []).map((id: string) => ({
          InstanceId: id,
          InstanceState: { Name: 'running' },
          SystemStatus: { Status: 'ok' },
          InstanceStatus: { Status: 'ok' },
        })),
      };
    });
    ssm.on(SendCommandCommand).callsFake(() => {
      order.push('probe sent');
      return { Command: { CommandId: 'cmd-1' } };
    });

    // Act
    await observePairs(deps(), [pair], learnt({ addresses: { ...ADDRESS } }));

    // Assess
    expect(order).toEqual(['status answered', 'probe sent']);
  });
});

describe('observe: the peer check', () => {
  it("probes both members in one command naming the pair's addresses, and reads each member's ping of the other", async () => {
    // Prepare
    answer = (id, commandId) =>
      success(
        id,
        commandId,
        id === PRIMARY ? `peer ${ADDRESS[STANDBY]} reachable` : `peer ${ADDRESS[PRIMARY]} unreachable`,
      );

    // Act
    const observed = await observePairs(deps(), [pair], learnt({ addresses: { ...ADDRESS } }));

    // Assess
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);
    expect(ssm.commandCalls(SendCommandCommand)[0]?.args[0].input).toMatchObject({
      InstanceIds: [PRIMARY, STANDBY],
      Parameters: { PeerAddresses: ['10.0.1.10-10.0.2.20'] },
    });
    expect(observed.get('branch-a')?.probes?.primary).toMatchObject({ reply: 'answered', peer: 'reachable' });
    expect(observed.get('branch-a')?.probes?.standby).toMatchObject({
      reply: 'answered',
      peer: 'unreachable',
    });
    // remembered addresses need no read
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
  });

  it('reads the addresses of running members once, before the probe, and the decision remembers them', async () => {
    // Act
    const observed = await observePairs(deps(), [pair], learnt());

    // Assess
    const observation = observed.get('branch-a');
    if (observation === undefined) throw new Error('no observation');
    expect(observation.addresses).toEqual({ primary: ADDRESS[PRIMARY], standby: ADDRESS[STANDBY] });
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(1);
    expect(ssm.commandCalls(SendCommandCommand)[0]?.args[0].input.Parameters?.PeerAddresses).toEqual([
      '10.0.1.10-10.0.2.20',
    ]);
    const memory = decide({
      pair,
      observation,
      memory: learnt().get('branch-a') as PairMemory,
      now: 0,
      dryRun: false,
    }).memory;
    expect(memory.addresses).toEqual({ [PRIMARY]: ADDRESS[PRIMARY], [STANDBY]: ADDRESS[STANDBY] });
  });

  it('while one member is stopped, names no pair: there is no partner to ping', async () => {
    states[STANDBY] = 'stopped';
    await observePairs(deps(), [pair], learnt());
    expect(ssm.commandCalls(SendCommandCommand)[0]?.args[0].input).toMatchObject({ InstanceIds: [PRIMARY] });
    expect(ssm.commandCalls(SendCommandCommand)[0]?.args[0].input.Parameters?.PeerAddresses).toBeUndefined();
  });
});

describe('observe: tunnel datapoints', () => {
  it('keeps the start of each datapoint period beside its value, so staleness can be judged', async () => {
    const observed = await observePairs(deps(), [pair], learnt({ addresses: { ...ADDRESS } }));
    expect(observed.get('branch-a')?.tunnels?.primary.datapoints).toEqual([
      { at: Date.parse('2026-11-30T11:59:00Z'), value: 1 },
      { at: Date.parse('2026-11-30T11:58:00Z'), value: 1 },
    ]);
  });
});

describe('observe across runs: what differential silence needs is remembered in the state table', () => {
  /** The standby answers and reports its ping of the primary; the primary is silent or answers too. */
  const round = (primarySilent: boolean, standbyReaches: boolean) => {
    answer = (id, commandId) =>
      id === PRIMARY
        ? primarySilent
          ? { CommandId: commandId, InstanceId: id, Status: 'Pending', StatusDetails: 'Pending' }
          : success(id, commandId, `peer ${ADDRESS[STANDBY]} reachable`)
        : success(id, commandId, `peer ${ADDRESS[PRIMARY]} ${standbyReaches ? 'reachable' : 'unreachable'}`);
  };

  it('moves traffic off a primary whose OS is lost: reached by ping once, then silent and unreachable on two runs', async () => {
    // Prepare: one clock for all runs, as on one Lambda's timeline
    const clock = steppingClock(Date.parse('2026-11-30T12:00:00Z'));
    const runs = [
      [false, true],
      [false, true],
      [true, false],
      [true, false],
    ] as const;

    // Act
    const summaries = [];
    for (const [silent, reaches] of runs) {
      round(silent, reaches);
      summaries.push(await runController(deps(clock), { kind: 'schedule' }));
    }

    // Assess: runs 1-2 learn ENIs, addresses and that the standby reaches the primary; run 3 counts one
    // silent evaluation; run 4 moves traffic.
    const plans = summaries.map((s) => s.pairs[0]?.plan);
    expect(plans).toEqual(['noop', 'noop', 'noop', 'failover']);
    expect(summaries[3]?.pairs[0]).toMatchObject({ trigger: 'hard-loss', to: 'standby' });
    const stored = await new StateStore({ dynamo: local.dynamo, tableName: local.tableName }).loadPairs([
      'branch-a',
    ]);
    expect(stored.get('branch-a')?.memory).toMatchObject({
      active: 'standby',
      addresses: { [PRIMARY]: ADDRESS[PRIMARY], [STANDBY]: ADDRESS[STANDBY] },
      peerReached: [PRIMARY, STANDBY],
      silenceStreak: { primary: 2, standby: 0 },
    });
  });

  it('never moves traffic off a primary whose SSM agent alone is offline: its partner still reaches it', async () => {
    const clock = steppingClock(Date.parse('2026-11-30T12:00:00Z'));
    const plans = [];
    for (const silent of [false, false, true, true, true, true]) {
      round(silent, true);
      plans.push((await runController(deps(clock), { kind: 'schedule' })).pairs[0]?.plan);
    }
    expect(plans.every((plan) => plan === 'noop')).toBe(true);
  });
});

const awsError = (name: string, message: string) =>
  Object.assign(new Error(message), { name, $metadata: {} });

describe('observe: what it could not read is unknown, with the reason', () => {
  it("leaves each member's tunnel metric without datapoints, naming CloudWatch's error, when GetMetricData fails", async () => {
    cloudwatch.on(GetMetricDataCommand).rejects(awsError('AccessDenied', 'not allowed to read metrics'));

    const seen = (await observePairs(deps(), [pair], learnt())).get('branch-a');

    for (const role of ['primary', 'standby'] as const) {
      expect(seen?.tunnels?.[role]).toEqual({
        instanceId: pair[role].instanceId,
        detail: expect.stringMatching(/^GetMetricData .*not allowed to read metrics/),
      });
    }
    // The other signals are still read.
    expect(seen?.probes?.primary.outcome).toBe('succeeded');
  });

  it('reports no routes at all, rather than routes missing, when the route table cannot be read', async () => {
    ec2.on(DescribeRouteTablesCommand).rejects(awsError('UnauthorizedOperation', 'not authorized'));

    const seen = (await observePairs(deps(), [pair], learnt())).get('branch-a');

    expect(seen?.routes).toBeUndefined();
    expect(seen?.instances.primary.found).toBe(true);
  });

  it("reports the agent's reports unreadable on both members, with the reason, when the agent table cannot be read", async () => {
    const withAgent = {
      ...deps(),
      agentTableName: 'no-such-table',
      agentMemberKeyPrefix: 'arn:aws:ec2:eu-west-1:123456789012:instance/',
    };

    const seen = (await observePairs(withAgent, [pair], learnt())).get('branch-a');

    for (const role of ['primary', 'standby'] as const) {
      expect(seen?.agent?.[role]).toEqual({
        readable: false,
        detail: expect.stringMatching(/no-such-table|not found|ResourceNotFound/i),
      });
    }
  });
});

describe('observe: where the Elastic IP is', () => {
  const ALLOCATION = 'eipalloc-0123456789abcdef0';
  const withIp = { ...pair, elasticIp: { allocationId: ALLOCATION } };
  const heldBy = (eni: string | undefined) =>
    ec2.on(DescribeAddressesCommand).resolves({
      Addresses: [
        { AllocationId: ALLOCATION, PublicIp: '198.51.100.7', ...(eni ? { NetworkInterfaceId: eni } : {}) },
      ],
    });

  it.each([
    ['the standby', 'standby', ENI[STANDBY]],
    ['an interface of neither member', 'other', 'eni-0999999999999999f'],
    ['nothing', 'none', undefined],
  ] as const)('on %s reads %s', async (_, holder, eni) => {
    heldBy(eni);

    const seen = (await observePairs(deps(), [withIp], learnt())).get('branch-a');

    expect(seen?.elasticIpOn).toBe(holder);
  });

  it('is left unknown, not "none", when DescribeAddresses fails', async () => {
    ec2.on(DescribeAddressesCommand).rejects(awsError('UnauthorizedOperation', 'not authorized'));

    const seen = (await observePairs(deps(), [withIp], learnt())).get('branch-a');

    expect(seen).toBeDefined();
    expect(seen?.elasticIpOn).toBeUndefined();
  });
});
