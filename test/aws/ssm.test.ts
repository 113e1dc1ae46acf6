import { readFileSync } from 'node:fs';
import {
  type CommandInvocation,
  InvalidInstanceId,
  InvocationDoesNotExist,
  ListCommandInvocationsCommand,
  type ListCommandInvocationsCommandOutput,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { probeDaemons, probeParameters } from '../../shared/aws/ssm.ts';
import type { Clock } from '../../shared/clock.ts';
import { PROBE_EXIT_NOT_RESPONDING } from '../../shared/telemetry-names.ts';

/** A recorded response; ISO timestamps become Dates as the SDK would deliver them. */
function fixture<T>(name: string): T {
  const text = readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
  return JSON.parse(text, (_key, value) =>
    typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/.test(value)
      ? new Date(value)
      : value,
  );
}

/** A clock whose sleep advances virtual time at once, so a 20-second probe round takes no real time. */
function fakeClock(start = Date.parse('2026-11-30T05:00:00.000Z')): Clock & { slept: number[] } {
  let now = start;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

const instanceId = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;
const STRONGSWAN = { ProbeKind: 'strongswan', MinSas: '1' };
const DOCUMENT = 'VpnFailover-Probe';

/** One invocation in the shape ListCommandInvocations returns with Details: true. */
function invocation(
  commandId: string,
  id: string,
  status: NonNullable<CommandInvocation['Status']>,
  plugin: { responseCode?: number; output?: string; statusDetails?: string } = {},
): CommandInvocation {
  const statusDetails = plugin.statusDetails ?? (status === 'InProgress' ? 'In Progress' : status);
  return {
    CommandId: commandId,
    InstanceId: id,
    DocumentName: DOCUMENT,
    Status: status,
    StatusDetails: statusDetails,
    CommandPlugins: [
      {
        Name: 'probe',
        Status: status === 'Delayed' ? 'Pending' : status === 'Cancelling' ? 'InProgress' : status,
        StatusDetails: statusDetails,
        ResponseCode: plugin.responseCode ?? (status === 'Success' ? 0 : -1),
        Output: plugin.output ?? '',
      },
    ],
  };
}

const ssmMock = mockClient(SSMClient);
// The stub replaces the client class's send for the whole worker: give it back for the next file.
afterAll(() => ssmMock.restore());
const ssm = new SSMClient({ maxAttempts: 1 });

beforeEach(() => {
  ssmMock.reset();
});

describe('probeParameters', () => {
  it('passes a systemd unit, or the minimum SAs for strongSwan and Libreswan, as document parameters', () => {
    expect(probeParameters({ kind: 'systemd', unit: 'strongswan' })).toEqual({
      ProbeKind: 'systemd',
      Unit: 'strongswan',
    });
    expect(probeParameters({ kind: 'strongswan', minSas: 2 })).toEqual({
      ProbeKind: 'strongswan',
      MinSas: '2',
    });
    expect(probeParameters({ kind: 'libreswan', minSas: 1 })).toEqual({
      ProbeKind: 'libreswan',
      MinSas: '1',
    });
  });
});

describe('probeDaemons', () => {
  it('reads success, daemon failure and delivery timeout from a real-shaped response', async () => {
    // Prepare
    const recorded = fixture<ListCommandInvocationsCommandOutput>('list-command-invocations.json');
    const commandId = recorded.CommandInvocations?.[0]?.CommandId;
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: commandId } });
    ssmMock.on(ListCommandInvocationsCommand).resolves(recorded);
    const ids = ['i-0123456789abcdef0', 'i-0fedcba9876543210', 'i-0aaaabbbbccccdddd'];
    const clock = fakeClock();

    // Act
    const results = await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: ids.map((id) => ({ instanceId: id, parameters: STRONGSWAN })),
      deadlineMs: clock.now() + 20_000,
      clock,
    });

    // Assess
    expect(results.get('i-0123456789abcdef0')).toEqual({
      instanceId: 'i-0123456789abcdef0',
      outcome: 'succeeded',
      detail: 'Success: strongswan: 2 IKE SAs established (minimum 1)',
      reply: 'answered',
    });
    expect(results.get('i-0fedcba9876543210')?.outcome).toBe('failed');
    expect(results.get('i-0fedcba9876543210')?.detail).toMatch(
      /^Failed \(exit 1\): strongswan: 0 IKE SAs established/,
    );
    // A delivery timeout says nothing about the daemon: unknown, with StatusDetails stripped of spaces.
    expect(results.get('i-0aaaabbbbccccdddd')?.outcome).toBe('unknown');
    expect(results.get('i-0aaaabbbbccccdddd')?.detail).toContain('DeliveryTimedOut');
    // ...but the member never took the command up: it was silent.
    expect(results.get('i-0aaaabbbbccccdddd')?.reply).toBe('silent');
    expect(results.get('i-0fedcba9876543210')?.reply).toBe('answered');
    expect(ssmMock).toHaveReceivedCommandWith(SendCommandCommand, {
      DocumentName: DOCUMENT,
      InstanceIds: ids,
      Parameters: { MinSas: ['1'], ProbeKind: ['strongswan'] },
      TimeoutSeconds: 30,
      Comment: 'vpn-failover probe',
    });
    expect(ssmMock).toHaveReceivedCommandWith(ListCommandInvocationsCommand, {
      CommandId: commandId,
      Details: true,
      MaxResults: 50,
    });
  });

  it('sends 120 probes as 3 commands of at most 50 instances and reads every page of results', async () => {
    // Prepare
    const ids = Array.from({ length: 120 }, (_, i) => instanceId(i + 1));
    const commands = new Map<string, string[]>();
    ssmMock.on(SendCommandCommand).callsFake((input) => {
      const commandId = `cmd-${commands.size + 1}`;
      commands.set(commandId, input.InstanceIds);
      return { Command: { CommandId: commandId } };
    });
    ssmMock.on(ListCommandInvocationsCommand).callsFake((input) => {
      const all = (commands.get(input.CommandId) ?? []).map((id) =>
        invocation(input.CommandId, id, 'Success'),
      );
      const start = Number(input.NextToken ?? 0);
      const end = start + input.MaxResults;
      return {
        CommandInvocations: all.slice(start, end),
        ...(end < all.length ? { NextToken: String(end) } : {}),
      };
    });
    const clock = fakeClock();

    // Act
    const results = await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: ids.map((id) => ({ instanceId: id, parameters: STRONGSWAN })),
      deadlineMs: clock.now() + 20_000,
      clock,
    });

    // Assess
    expect(ssmMock).toHaveReceivedCommandTimes(SendCommandCommand, 3);
    const sizes = ssmMock.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds?.length);
    expect(sizes.sort()).toEqual([20, 50, 50]);
    expect(results.size).toBe(120);
    expect([...results.values()].every((r) => r.outcome === 'succeeded')).toBe(true);
  });

  it('sends instances with different probe parameters in separate commands', async () => {
    // Prepare
    ssmMock
      .on(SendCommandCommand)
      .callsFake((input) => ({ Command: { CommandId: `cmd-${input.InstanceIds[0]}` } }));
    ssmMock.on(ListCommandInvocationsCommand).callsFake((input) => ({
      CommandInvocations: [invocation(input.CommandId, input.CommandId.slice(4), 'Success')],
    }));
    const clock = fakeClock();

    // Act
    await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: [
        { instanceId: instanceId(1), parameters: STRONGSWAN },
        { instanceId: instanceId(2), parameters: { ProbeKind: 'systemd', Unit: 'ipsec' } },
      ],
      deadlineMs: clock.now() + 20_000,
      clock,
    });

    // Assess
    expect(ssmMock).toHaveReceivedCommandWith(SendCommandCommand, {
      InstanceIds: [instanceId(1)],
      Parameters: { MinSas: ['1'], ProbeKind: ['strongswan'] },
    });
    expect(ssmMock).toHaveReceivedCommandWith(SendCommandCommand, {
      InstanceIds: [instanceId(2)],
      Parameters: { ProbeKind: ['systemd'], Unit: ['ipsec'] },
    });
  });

  it('keeps polling through InvocationDoesNotExist until the invocation succeeds', async () => {
    // Prepare
    const id = instanceId(1);
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssmMock
      .on(ListCommandInvocationsCommand)
      .rejectsOnce(new InvocationDoesNotExist({ message: 'InvocationDoesNotExist', $metadata: {} }))
      .resolvesOnce({ CommandInvocations: [] })
      .resolves({ CommandInvocations: [invocation('cmd-1', id, 'Success', { output: '1 SA established' })] });
    const clock = fakeClock();

    // Act
    const results = await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: [{ instanceId: id, parameters: STRONGSWAN }],
      deadlineMs: clock.now() + 20_000,
      clock,
      pollIntervalMs: 500,
    });

    // Assess
    expect(results.get(id)?.outcome).toBe('succeeded');
    expect(ssmMock).toHaveReceivedCommandTimes(ListCommandInvocationsCommand, 3);
    expect(clock.slept).toEqual([500, 500, 500]);
  });

  it('reports an instance whose SSM agent is offline as unknown and still probes the others', async () => {
    // Prepare
    const offline = instanceId(2);
    ssmMock.on(SendCommandCommand).callsFake((input) => {
      if (input.InstanceIds.includes(offline)) {
        throw new InvalidInstanceId({
          message: `Instances [[${offline}]] not in a valid state for account 123456789012`,
          $metadata: {},
        });
      }
      return { Command: { CommandId: 'cmd-ok' } };
    });
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        invocation('cmd-ok', instanceId(1), 'Success'),
        invocation('cmd-ok', instanceId(3), 'Success'),
      ],
    });
    const clock = fakeClock();

    // Act
    const results = await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: [1, 2, 3].map((n) => ({ instanceId: instanceId(n), parameters: STRONGSWAN })),
      deadlineMs: clock.now() + 20_000,
      clock,
    });

    // Assess
    expect(results.get(offline)).toEqual({
      instanceId: offline,
      outcome: 'unknown',
      detail: 'SSM agent not reachable (InvalidInstanceId)',
      reply: 'silent',
    });
    expect(results.get(instanceId(1))?.outcome).toBe('succeeded');
    expect(results.get(instanceId(3))?.outcome).toBe('succeeded');
    expect(ssmMock).toHaveReceivedNthCommandWith(SendCommandCommand, 2, {
      InstanceIds: [instanceId(1), instanceId(3)],
    });
  });

  it('isolates offline agents by halving the command when the error does not name them', async () => {
    // Prepare
    const offline = instanceId(3);
    ssmMock.on(SendCommandCommand).callsFake((input) => {
      if (input.InstanceIds.includes(offline))
        throw new InvalidInstanceId({ message: 'Invalid instance id', $metadata: {} });
      return { Command: { CommandId: `cmd-${input.InstanceIds.join('+')}` } };
    });
    ssmMock.on(ListCommandInvocationsCommand).callsFake((input) => ({
      CommandInvocations: input.CommandId.slice(4)
        .split('+')
        .map((id: string) => invocation(input.CommandId, id, 'Success')),
    }));
    const clock = fakeClock();

    // Act
    const results = await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: [1, 2, 3, 4].map((n) => ({ instanceId: instanceId(n), parameters: STRONGSWAN })),
      deadlineMs: clock.now() + 20_000,
      clock,
    });

    // Assess
    expect(results.get(offline)?.outcome).toBe('unknown');
    for (const n of [1, 2, 4]) expect(results.get(instanceId(n))?.outcome).toBe('succeeded');
  });

  it('reports invocations still in progress at the deadline as unknown, polling no longer than the deadline', async () => {
    // Prepare
    const id = instanceId(1);
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssmMock
      .on(ListCommandInvocationsCommand)
      .resolves({ CommandInvocations: [invocation('cmd-1', id, 'InProgress')] });
    const clock = fakeClock();
    const deadlineMs = clock.now() + 5_500;

    // Act
    const results = await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: [{ instanceId: id, parameters: STRONGSWAN }],
      deadlineMs,
      clock,
    });

    // Assess
    expect(results.get(id)).toEqual({
      instanceId: id,
      outcome: 'unknown',
      detail: 'still InProgress at the probe deadline',
      // the member had taken the command up: not silence
      reply: 'unreadable',
    });
    expect(clock.now()).toBe(deadlineMs);
    expect(clock.slept).toEqual([1000, 1000, 1000, 1000, 1000, 500]);
  });

  it('reports a probe that exits 1 as failed, with its output', async () => {
    // Prepare
    const id = instanceId(1);
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        invocation('cmd-1', id, 'Failed', {
          responseCode: 1,
          output: `unit strongswan is ${'inactive '.repeat(40)}`,
        }),
      ],
    });
    const clock = fakeClock();

    // Act
    const results = await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: [{ instanceId: id, parameters: { ProbeKind: 'systemd', Unit: 'strongswan' } }],
      deadlineMs: clock.now() + 20_000,
      clock,
    });

    // Assess
    const result = results.get(id);
    expect(result?.outcome).toBe('failed');
    expect(result?.detail).toMatch(/^Failed \(exit 1\): unit strongswan is inactive/);
    expect(result?.detail.length).toBeLessThanOrEqual(200);
  });

  it('reports a probe that could not judge the daemon (exit 3: agent too old for its parameters) as unknown', async () => {
    // Prepare
    const id = instanceId(1);
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        invocation('cmd-1', id, 'Failed', { responseCode: 3, output: 'unknown: SSM_ProbeKind is not set' }),
      ],
    });
    const clock = fakeClock();

    // Act
    const results = await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: [{ instanceId: id, parameters: STRONGSWAN }],
      deadlineMs: clock.now() + 20_000,
      clock,
    });

    // Assess
    expect(results.get(id)?.outcome).toBe('unknown');
    expect(results.get(id)?.detail).toMatch(/could not judge the daemon/);
  });

  it('reports a hung daemon (exit 4: a daemon command timed out inside the probe) as unhealthy, not responding', async () => {
    // Prepare
    const id = instanceId(1);
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        invocation('cmd-1', id, 'Failed', {
          responseCode: PROBE_EXIT_NOT_RESPONDING,
          output: "unhealthy: daemon not responding: 'swanctl --list-sas' did not answer within 4 s",
        }),
      ],
    });
    const clock = fakeClock();

    // Act
    const results = await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: [{ instanceId: id, parameters: STRONGSWAN }],
      deadlineMs: clock.now() + 20_000,
      clock,
    });

    // Assess
    expect(results.get(id)?.outcome).toBe('failed');
    expect(results.get(id)?.detail).toMatch(/^Failed \(exit 4\): unhealthy: daemon not responding: 'swanctl/);
  });

  it('reports a failure with exit code -1 (the command never ran) as unknown, not failed', async () => {
    // Prepare
    const id = instanceId(1);
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [invocation('cmd-1', id, 'Failed', { responseCode: -1 })],
    });
    const clock = fakeClock();

    // Act
    const results = await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: [{ instanceId: id, parameters: STRONGSWAN }],
      deadlineMs: clock.now() + 20_000,
      clock,
    });

    // Assess
    expect(results.get(id)?.outcome).toBe('unknown');
  });

  it.each([
    ['Cancelled', 'Cancelled'],
    ['TimedOut', 'Execution Timed Out'],
    ['Cancelling', 'Cancelling'],
  ] as const)('reports a %s invocation as unknown', async (status, statusDetails) => {
    // Prepare
    const id = instanceId(1);
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [invocation('cmd-1', id, status, { statusDetails })],
    });
    const clock = fakeClock();

    // Act
    const results = await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: [{ instanceId: id, parameters: STRONGSWAN }],
      deadlineMs: clock.now() + 20_000,
      clock,
    });

    // Assess
    expect(results.get(id)?.outcome).toBe('unknown');
    expect(results.get(id)?.detail).toContain(statusDetails.replaceAll(' ', ''));
  });

  it('never throws: a SendCommand error makes its instances unknown', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).rejects(
      Object.assign(new Error('Document VpnFailover-Probe does not exist'), {
        name: 'InvalidDocument',
        $metadata: {},
      }),
    );
    const clock = fakeClock();

    // Act
    const results = await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: [{ instanceId: instanceId(1), parameters: STRONGSWAN }],
      deadlineMs: clock.now() + 20_000,
      clock,
    });

    // Assess
    expect(results.get(instanceId(1))).toEqual({
      instanceId: instanceId(1),
      outcome: 'unknown',
      detail: 'SendCommand failed: InvalidDocument: Document VpnFailover-Probe does not exist',
      reply: 'unreadable',
    });
    expect(ssmMock).not.toHaveReceivedCommand(ListCommandInvocationsCommand);
  });

  it('never throws: a ListCommandInvocations error makes the command’s instances unknown', async () => {
    // Prepare
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssmMock
      .on(ListCommandInvocationsCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException', $metadata: {} }));
    const clock = fakeClock();

    // Act
    const results = await probeDaemons(ssm, {
      documentName: DOCUMENT,
      probes: [{ instanceId: instanceId(1), parameters: STRONGSWAN }],
      deadlineMs: clock.now() + 20_000,
      clock,
    });

    // Assess
    expect(results.get(instanceId(1))?.outcome).toBe('unknown');
    expect(results.get(instanceId(1))?.detail).toContain('AccessDeniedException');
  });

  describe('how an unanswered probe went unanswered: silent (the member said nothing) or unreadable (the API did not tell)', () => {
    const cases: {
      name: string;
      invocation?: (commandId: string, id: string) => CommandInvocation;
      listError?: Error;
      sendError?: Error;
      reply: 'silent' | 'unreadable' | 'answered';
      outcome: 'succeeded' | 'failed' | 'unknown';
    }[] = [
      {
        name: 'still Pending at the deadline (the agent never picked it up)',
        invocation: (c, id) => invocation(c, id, 'Pending'),
        reply: 'silent',
        outcome: 'unknown',
      },
      {
        name: 'Delayed at the deadline (SSM could not deliver it yet)',
        invocation: (c, id) => invocation(c, id, 'Delayed'),
        reply: 'silent',
        outcome: 'unknown',
      },
      {
        name: 'TimedOut with Delivery Timed Out',
        invocation: (c, id) => invocation(c, id, 'TimedOut', { statusDetails: 'Delivery Timed Out' }),
        reply: 'silent',
        outcome: 'unknown',
      },
      {
        name: 'Failed as Undeliverable',
        invocation: (c, id) => invocation(c, id, 'Failed', { statusDetails: 'Undeliverable' }),
        reply: 'silent',
        outcome: 'unknown',
      },
      {
        name: 'TimedOut with Execution Timed Out (it was delivered and ran)',
        invocation: (c, id) => invocation(c, id, 'TimedOut', { statusDetails: 'Execution Timed Out' }),
        reply: 'unreadable',
        outcome: 'unknown',
      },
      {
        name: 'Failed with AccessDenied (the instance tag condition)',
        invocation: (c, id) => invocation(c, id, 'Failed', { statusDetails: 'Access Denied' }),
        reply: 'unreadable',
        outcome: 'unknown',
      },
      {
        name: 'exit 3: the script ran but could not judge the daemon',
        invocation: (c, id) =>
          invocation(c, id, 'Failed', { responseCode: 3, output: 'unknown: SSM_ProbeKind is not set' }),
        reply: 'answered',
        outcome: 'unknown',
      },
      {
        name: 'ListCommandInvocations throttled until the deadline',
        listError: Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: {} }),
        reply: 'unreadable',
        outcome: 'unknown',
      },
      {
        name: 'ListCommandInvocations denied',
        listError: Object.assign(new Error('not authorized'), {
          name: 'AccessDeniedException',
          $metadata: {},
        }),
        reply: 'unreadable',
        outcome: 'unknown',
      },
      {
        name: 'SendCommand throttled',
        sendError: Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: {} }),
        reply: 'unreadable',
        outcome: 'unknown',
      },
    ];

    for (const c of cases) {
      it(`${c.name}: ${c.reply}`, async () => {
        // Prepare
        const id = instanceId(1);
        if (c.sendError) ssmMock.on(SendCommandCommand).rejects(c.sendError);
        else ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
        if (c.listError) ssmMock.on(ListCommandInvocationsCommand).rejects(c.listError);
        else if (c.invocation) {
          ssmMock
            .on(ListCommandInvocationsCommand)
            .resolves({ CommandInvocations: [c.invocation('cmd-1', id)] });
        }
        const clock = fakeClock();

        // Act
        const results = await probeDaemons(ssm, {
          documentName: DOCUMENT,
          probes: [{ instanceId: id, parameters: STRONGSWAN }],
          deadlineMs: clock.now() + 5_000,
          clock,
        });

        // Assess
        expect(results.get(id)?.reply).toBe(c.reply);
        expect(results.get(id)?.outcome).toBe(c.outcome);
      });
    }
  });

  describe('the peer check', () => {
    const [primary, standby] = [instanceId(1), instanceId(2)];

    it("reads each member's ping of its partner from its own output and keeps the peer lines out of the detail", async () => {
      // Prepare
      ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
      ssmMock.on(ListCommandInvocationsCommand).resolves({
        CommandInvocations: [
          invocation('cmd-1', primary, 'Success', {
            output:
              'healthy: 1 installed CHILD SAs (at least 1 required)\npeer 10.0.1.10 reachable\npeer 10.0.2.20 unreachable\n',
          }),
          invocation('cmd-1', standby, 'Failed', {
            responseCode: 1,
            output:
              'unhealthy: 0 installed CHILD SAs (at least 1 required)\npeer 10.0.1.10 reachable\npeer 10.0.2.20 reachable\n',
          }),
        ],
      });
      const clock = fakeClock();

      // Act
      const results = await probeDaemons(ssm, {
        documentName: DOCUMENT,
        probes: [
          { instanceId: primary, parameters: STRONGSWAN, group: 'branch-a', address: '10.0.1.10' },
          { instanceId: standby, parameters: STRONGSWAN, group: 'branch-a', address: '10.0.2.20' },
        ],
        deadlineMs: clock.now() + 20_000,
        clock,
      });

      // Assess
      expect(results.get(primary)).toEqual({
        instanceId: primary,
        outcome: 'succeeded',
        detail: 'Success: healthy: 1 installed CHILD SAs (at least 1 required)',
        reply: 'answered',
        peer: 'unreachable',
      });
      expect(results.get(standby)).toEqual({
        instanceId: standby,
        outcome: 'failed',
        detail: 'Failed (exit 1): unhealthy: 0 installed CHILD SAs (at least 1 required)',
        reply: 'answered',
        peer: 'reachable',
      });
      expect(ssmMock).toHaveReceivedCommandWith(SendCommandCommand, {
        InstanceIds: [primary, standby],
        Parameters: { MinSas: ['1'], PeerAddresses: ['10.0.1.10-10.0.2.20'], ProbeKind: ['strongswan'] },
      });
    });

    it('gives up on a member partnerGraceMs after its partner answered, but waits the deadline for one without a partner', async () => {
      // Prepare: the pair's primary and a lone instance never answer
      const lone = instanceId(3);
      ssmMock
        .on(SendCommandCommand)
        .callsFake((input) => ({ Command: { CommandId: `cmd-${input.InstanceIds.join('+')}` } }));
      ssmMock.on(ListCommandInvocationsCommand).callsFake((input) => ({
        CommandInvocations: input.CommandId.slice(4)
          .split('+')
          .map((id: string) => invocation(input.CommandId, id, id === standby ? 'Success' : 'Pending')),
      }));
      const clock = fakeClock();
      const started = clock.now();

      // Act
      const results = await probeDaemons(ssm, {
        documentName: DOCUMENT,
        probes: [
          { instanceId: primary, parameters: STRONGSWAN, group: 'branch-a' },
          { instanceId: standby, parameters: STRONGSWAN, group: 'branch-a' },
          { instanceId: lone, parameters: STRONGSWAN },
        ],
        deadlineMs: started + 20_000,
        clock,
        partnerGraceMs: 3_000,
      });

      // Assess
      expect(results.get(primary)).toMatchObject({
        outcome: 'unknown',
        reply: 'silent',
        detail: `still Pending 3 s after its partner ${standby} answered`,
      });
      expect(results.get(lone)).toMatchObject({
        reply: 'silent',
        detail: 'still Pending at the probe deadline',
      });
      expect(clock.now() - started).toBe(20_000);
    });

    it('waits past the grace for a member whose command has started: a hung daemon answers "not responding"', async () => {
      // Prepare: the standby answers at once; the primary's probe is running (its daemon hangs) and answers
      // exit 4 eight seconds later, when its command timeout and ping are done.
      ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
      const clock = fakeClock();
      const started = clock.now();
      ssmMock.on(ListCommandInvocationsCommand).callsFake(() => ({
        CommandInvocations: [
          invocation('cmd-1', standby, 'Success'),
          clock.now() - started < 8_000
            ? invocation('cmd-1', primary, 'InProgress')
            : invocation('cmd-1', primary, 'Failed', {
                responseCode: PROBE_EXIT_NOT_RESPONDING,
                output: "unhealthy: daemon not responding: 'swanctl --list-sas' did not answer within 4 s",
              }),
        ],
      }));

      // Act
      const results = await probeDaemons(ssm, {
        documentName: DOCUMENT,
        probes: [
          { instanceId: primary, parameters: STRONGSWAN, group: 'branch-a' },
          { instanceId: standby, parameters: STRONGSWAN, group: 'branch-a' },
        ],
        deadlineMs: started + 20_000,
        clock,
        partnerGraceMs: 3_000,
      });

      // Assess
      expect(results.get(primary)).toMatchObject({ outcome: 'failed', reply: 'answered' });
      expect(results.get(primary)?.detail).toMatch(/daemon not responding/);
      expect(clock.now() - started).toBeLessThan(20_000);
    });

    it("reports no peer when the output has no line for the partner's address (an older script)", async () => {
      // Prepare
      ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
      ssmMock.on(ListCommandInvocationsCommand).resolves({
        CommandInvocations: [
          invocation('cmd-1', primary, 'Success', { output: 'healthy: 1 installed CHILD SAs' }),
        ],
      });
      const clock = fakeClock();

      // Act
      const results = await probeDaemons(ssm, {
        documentName: DOCUMENT,
        probes: [
          { instanceId: primary, parameters: STRONGSWAN, group: 'branch-a', address: '10.0.1.10' },
          { instanceId: standby, parameters: STRONGSWAN, group: 'branch-a', address: '10.0.2.20' },
        ],
        deadlineMs: clock.now() + 20_000,
        clock,
      });

      // Assess
      expect(results.get(primary)?.peer).toBeUndefined();
      expect(results.get(primary)?.reply).toBe('answered');
      // a line about some other address is not about the partner
      expect(results.get(standby)?.peer).toBeUndefined();
    });

    it("never splits a pair's two members across SendCommand calls, so their answers can be compared, and names each command's pairs", async () => {
      // Prepare: 26 pairs with the same parameters (52 instances), the 25th pair straddling 50
      const pairs = Array.from({ length: 26 }, (_, p) => [instanceId(2 * p + 1), instanceId(2 * p + 2)]);
      const singles = [instanceId(100)];
      ssmMock
        .on(SendCommandCommand)
        .callsFake((input) => ({ Command: { CommandId: `cmd-${input.InstanceIds.join('+')}` } }));
      ssmMock.on(ListCommandInvocationsCommand).callsFake((input) => ({
        CommandInvocations: input.CommandId.slice(4)
          .split('+')
          .map((id: string) => invocation(input.CommandId, id, 'Success')),
      }));
      const clock = fakeClock();

      // Act
      await probeDaemons(ssm, {
        documentName: DOCUMENT,
        probes: [
          { instanceId: singles[0] as string, parameters: STRONGSWAN },
          ...pairs.flatMap((ids, p) =>
            ids.map((id, m) => ({
              instanceId: id,
              parameters: STRONGSWAN,
              group: `pair-${p}`,
              address: `10.${m}.${p}.1`,
            })),
          ),
        ],
        deadlineMs: clock.now() + 20_000,
        clock,
      });

      // Assess
      const sent = ssmMock.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds ?? []);
      for (const ids of sent) expect(ids.length).toBeLessThanOrEqual(50);
      for (const [a, b] of pairs) {
        expect(sent.filter((ids) => ids.includes(a as string) && ids.includes(b as string))).toHaveLength(1);
      }
      expect(sent.flat().sort()).toEqual([...singles, ...pairs.flat()].sort());
      // each command names exactly the pairs it probes, for the members to find their partners
      for (const call of ssmMock.commandCalls(SendCommandCommand)) {
        const { InstanceIds = [], Parameters = {} } = call.args[0].input;
        const named = pairs.flatMap(([a], p) =>
          InstanceIds.includes(a as string) ? [`10.0.${p}.1-10.1.${p}.1`] : [],
        );
        expect(Parameters.PeerAddresses).toEqual([named.join(',')]);
      }
    });
  });
});
