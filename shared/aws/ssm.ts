import {
  type CommandInvocation,
  type InstanceInformation,
  paginateDescribeInstanceInformation,
  paginateListCommandInvocations,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { Clock } from '../clock.ts';
import { chunk } from '../concurrency.ts';
import type { ProbeConfig } from '../config/schema.ts';
import type { PeerReach, ProbeObservation, ProbeReply } from '../domain/types.ts';
import { PROBE_EXIT_UNKNOWN, PROBE_PARAMETERS, PROBE_PEER_LINE } from '../telemetry-names.ts';
import { awsErrorName, describeAwsError, isThrottle } from './errors.ts';
import { collector, type ReadResult } from './read-result.ts';

/**
 * The daemon probe through SSM Run Command (https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html): send the probe document to every member,
 * poll for the invocations' outcomes until each is terminal or the deadline passes. Branches on `Status` and
 * on the StatusDetails values the API documents (DeliveryTimedOut, Undeliverable, ExecutionTimedOut...), never
 * on free text. Never throws: anything that cannot be read is an `unknown` outcome, which also says how it went
 * unanswered (`reply`): silent (the member said nothing) or unreadable (the API did not tell us).
 */

/** SendCommand takes at most 50 InstanceIds (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html). */
const INSTANCES_PER_COMMAND = 50;
/** The minimum delivery timeout: a probe that cannot start within 30 s is worthless anyway. */
const DELIVERY_TIMEOUT_SECONDS = 30;
/** ListCommandInvocations page size: its maximum. */
const INVOCATIONS_PER_PAGE = 50;
const DEFAULT_POLL_INTERVAL_MS = 1000;
/** Room for detail in logs and summaries; plugin output can be up to 2,500 characters. */
const DETAIL_CHARS = 200;
const COMMENT = 'vpn-failover probe';

/** One instance to probe, with the document parameters for its pair's probe kind. */
export interface ProbeTarget {
  readonly instanceId: string;
  readonly parameters: Readonly<Record<string, string>>;
  /**
   * Targets with the same group (a pair's two members) are always sent in the same SendCommand, so their
   * answers can be compared; default: the instance alone.
   */
  readonly group?: string;
  /**
   * The member's own private IPv4 address. When both members of a group have one, the command's PeerAddresses
   * names the pair ("a-b"), and each member reports whether it reaches the other by ping (`peer`).
   */
  readonly address?: string;
}

/** A probe round: one document, many instances, one deadline. */
export interface ProbeRequest {
  readonly documentName: string;
  readonly probes: readonly ProbeTarget[];
  /** epoch ms; invocations not terminal by then are unknown */
  readonly deadlineMs: number;
  readonly clock: Clock;
  /** pause between polls of ListCommandInvocations; default 1000 */
  readonly pollIntervalMs?: number;
  /**
   * How long a group member's probe is still waited for once its partner's probe has answered; after that it
   * reads unknown (silent, if it was never taken up). Default: until the deadline.
   */
  readonly partnerGraceMs?: number;
}

/**
 * The probe document's parameters for a pair's probe (names from PROBE_PARAMETERS, shared with the CDK
 * document): systemd gives the unit, strongSwan and Libreswan the minimum number of established SAs. Pairs
 * with probe kind none are not probed; for them only the kind is given.
 */
export function probeParameters(probe: ProbeConfig): Record<string, string> {
  switch (probe.kind) {
    case 'systemd':
      return { [PROBE_PARAMETERS.kind]: probe.kind, [PROBE_PARAMETERS.unit]: probe.unit };
    case 'strongswan':
    case 'libreswan':
      return { [PROBE_PARAMETERS.kind]: probe.kind, [PROBE_PARAMETERS.minSas]: String(probe.minSas) };
    case 'none':
      return { [PROBE_PARAMETERS.kind]: probe.kind };
  }
}

/** DescribeInstanceInformation's InstanceIds filter takes at most 50 values (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformationStringFilter.html). */
const IDS_PER_INFORMATION_CALL = 50;

/** What SSM says about a managed node's agent. */
export interface AgentPing {
  /** Online, ConnectionLost or Inactive */
  readonly pingStatus: string;
  /** epoch ms of the agent's last heartbeat, when SSM tells it */
  readonly lastPingAt?: number;
  readonly agentVersion?: string;
}

/**
 * The SSM agent's status on instances (DescribeInstanceInformation, 50 ids a call, every page). An instance SSM
 * does not list has never registered (no agent, no instance profile allowing SSM, no route to SSM): it is
 * absent from `values` and not an error. A failed call leaves its ids out and adds an error.
 */
export async function readAgentPings(
  ssm: SSMClient,
  instanceIds: readonly string[],
): Promise<ReadResult<string, AgentPing>> {
  const out = collector<string, AgentPing>();
  await Promise.all(
    chunk([...new Set(instanceIds)], IDS_PER_INFORMATION_CALL).map(async (ids) => {
      try {
        const nodes: InstanceInformation[] = [];
        const pages = paginateDescribeInstanceInformation(
          { client: ssm },
          { Filters: [{ Key: 'InstanceIds', Values: ids }] },
        );
        for await (const page of pages) nodes.push(...(page.InstanceInformationList ?? []));
        for (const node of nodes) {
          if (node.InstanceId === undefined || !ids.includes(node.InstanceId)) continue;
          out.values.set(node.InstanceId, {
            pingStatus: node.PingStatus ?? 'unknown',
            ...(node.LastPingDateTime ? { lastPingAt: node.LastPingDateTime.getTime() } : {}),
            ...(node.AgentVersion ? { agentVersion: node.AgentVersion } : {}),
          });
        }
      } catch (err) {
        out.errors.push(`DescribeInstanceInformation ${ids.join(', ')}: ${describeAwsError(err)}`);
      }
    }),
  );
  return out;
}

type Settle = (
  instanceId: string,
  outcome: ProbeObservation['outcome'],
  detail: string,
  reply: ProbeReply,
  peer?: PeerReach,
) => void;

/** A sent command and the instances whose outcome is still open. */
interface SentCommand {
  readonly commandId: string;
  readonly pending: Set<string>;
  /** the latest non-terminal invocation seen per instance, for the deadline's reason */
  readonly lastSeen: Map<string, CommandInvocation>;
}

/**
 * Probe the VPN daemon on every requested instance. Instances with identical parameters share SendCommand calls
 * of at most 50, all sent in parallel, and a group (a pair) is never split across calls; results are polled
 * every `pollIntervalMs` on the clock until every invocation is terminal or `deadlineMs`. Every requested
 * instance gets an entry; nothing throws.
 */
export async function probeDaemons(
  ssm: SSMClient,
  request: ProbeRequest,
): Promise<Map<string, ProbeObservation>> {
  const results = new Map<string, ProbeObservation>();
  const answeredAt = new Map<string, number>();
  const settle: Settle = (instanceId, outcome, detail, reply, peer) => {
    results.set(instanceId, { instanceId, outcome, detail, reply, ...(peer !== undefined && { peer }) });
    if (reply === 'answered') answeredAt.set(instanceId, request.clock.now());
  };
  const commands = new Map<
    string,
    { parameters: Record<string, string[]>; units: Map<string, ProbeTarget[]> }
  >();
  const seen = new Set<string>();
  for (const probe of request.probes) {
    // SendCommand rejects a repeated instance id (DuplicateInstanceId); the first request for it wins.
    if (seen.has(probe.instanceId)) continue;
    seen.add(probe.instanceId);
    const entries = Object.entries(probe.parameters).sort(([a], [b]) => a.localeCompare(b));
    const key = JSON.stringify(entries);
    const command = commands.get(key) ?? {
      parameters: Object.fromEntries(entries.map(([name, value]) => [name, [value]])),
      units: new Map<string, ProbeTarget[]>(),
    };
    const unit = probe.group ?? probe.instanceId;
    command.units.set(unit, [...(command.units.get(unit) ?? []), probe]);
    commands.set(key, command);
  }

  // Each member reads its partner's line; a pair whose members do not both have an address is not named.
  const peerAddresses = new Map<string, string>();
  const partners = new Map<string, string>();
  const sent = (
    await Promise.all(
      [...commands.values()].flatMap((command) =>
        packed([...command.units.values()], INSTANCES_PER_COMMAND).map((units) => {
          const pairs = units.flatMap((unit) => {
            const [a, b] = unit;
            if (unit.length === 2 && a !== undefined && b !== undefined) {
              partners.set(a.instanceId, b.instanceId);
              partners.set(b.instanceId, a.instanceId);
            }
            if (unit.length !== 2 || a?.address === undefined || b?.address === undefined) return [];
            peerAddresses.set(a.instanceId, b.address);
            peerAddresses.set(b.instanceId, a.address);
            return [`${a.address}-${b.address}`];
          });
          const parameters =
            pairs.length === 0
              ? command.parameters
              : { ...command.parameters, [PROBE_PARAMETERS.peerAddresses]: [pairs.join(',')] };
          return send(
            ssm,
            request.documentName,
            parameters,
            units.flatMap((unit) => unit.map((t) => t.instanceId)),
            settle,
          );
        }),
      ),
    )
  ).flat();

  // A member whose command has not even started this long after its partner answered is given up on: the
  // round has its differential. One whose command has started (InProgress) was delivered, and the probe's own
  // command timeouts bound how long it can run (a hung daemon answers "not responding"): it is waited for.
  const grace = request.partnerGraceMs;
  const overdue = (command: SentCommand, instanceId: string): boolean => {
    const partner = partners.get(instanceId);
    const at = partner === undefined ? undefined : answeredAt.get(partner);
    const started = command.lastSeen.get(instanceId)?.Status === 'InProgress';
    return grace !== undefined && at !== undefined && !started && request.clock.now() >= at + grace;
  };
  const giveUp = (command: SentCommand) => {
    for (const instanceId of [...command.pending].filter((id) => overdue(command, id))) {
      const last = command.lastSeen.get(instanceId);
      const partner = partners.get(instanceId);
      const state = last === undefined ? 'no invocation visible' : `still ${normalisedStatusDetails(last)}`;
      settle(
        instanceId,
        'unknown',
        `${state} ${(grace ?? 0) / 1000} s after its partner ${partner} answered`,
        deadlineReply(last),
      );
      command.pending.delete(instanceId);
    }
  };
  await poll(ssm, sent, request, settle, peerAddresses, giveUp);
  for (const command of sent) {
    for (const instanceId of command.pending) {
      const last = command.lastSeen.get(instanceId);
      settle(instanceId, 'unknown', deadlineReason(last), deadlineReply(last));
    }
  }
  for (const instanceId of seen) {
    if (!results.has(instanceId)) settle(instanceId, 'unknown', 'no probe result', 'unreadable');
  }
  return results;
}

/**
 * Units (a pair's targets) packed in order into commands of at most `size` instances, never splitting a
 * unit (one larger than `size` is cut into parts, each a unit of its own).
 */
function packed(units: readonly ProbeTarget[][], size: number): ProbeTarget[][][] {
  const commands: { units: ProbeTarget[][]; count: number }[] = [];
  for (const unit of units) {
    for (const part of chunk(unit, size)) {
      const last = commands.at(-1);
      if (last !== undefined && last.count + part.length <= size) {
        last.units.push(part);
        last.count += part.length;
      } else {
        commands.push({ units: [part], count: part.length });
      }
    }
  }
  return commands.map((command) => command.units);
}

/**
 * Send the probe to some instances. SendCommand fails as a whole with InvalidInstanceId when any of them is not
 * an online managed node (https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html), so the instances it names (or, when it names none, each half)
 * are sent again without the offending ones: one offline agent must not blind the probe of its neighbours.
 */
async function send(
  ssm: SSMClient,
  documentName: string,
  parameters: Record<string, string[]>,
  instanceIds: readonly string[],
  settle: Settle,
): Promise<SentCommand[]> {
  try {
    const response = await ssm.send(
      new SendCommandCommand({
        DocumentName: documentName,
        InstanceIds: [...instanceIds],
        Parameters: parameters,
        TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
        Comment: COMMENT,
      }),
    );
    const commandId = response.Command?.CommandId;
    if (commandId === undefined) {
      for (const id of instanceIds) settle(id, 'unknown', 'SendCommand returned no command id', 'unreadable');
      return [];
    }
    return [{ commandId, pending: new Set(instanceIds), lastSeen: new Map() }];
  } catch (err) {
    if (awsErrorName(err) !== 'InvalidInstanceId') {
      for (const id of instanceIds)
        settle(id, 'unknown', `SendCommand failed: ${trim(describeAwsError(err))}`, 'unreadable');
      return [];
    }
    // SSM no longer counts the member's agent as online: the member has stopped talking to SSM (silent).
    if (instanceIds.length === 1) {
      for (const id of instanceIds) settle(id, 'unknown', AGENT_NOT_REACHABLE, 'silent');
      return [];
    }
    const tokens = new Set((err instanceof Error ? err.message : '').split(/[^A-Za-z0-9-]+/));
    const named = instanceIds.filter((id) => tokens.has(id));
    const others = instanceIds.filter((id) => !named.includes(id));
    if (named.length > 0) {
      for (const id of named) settle(id, 'unknown', AGENT_NOT_REACHABLE, 'silent');
      return others.length === 0 ? [] : send(ssm, documentName, parameters, others, settle);
    }
    const half = Math.ceil(instanceIds.length / 2);
    const halves = [instanceIds.slice(0, half), instanceIds.slice(half)];
    return (await Promise.all(halves.map((ids) => send(ssm, documentName, parameters, ids, settle)))).flat();
  }
}

const AGENT_NOT_REACHABLE = 'SSM agent not reachable (InvalidInstanceId)';

/** Poll every command until all its instances are settled or the deadline passes; the last poll is at the deadline. */
async function poll(
  ssm: SSMClient,
  sent: readonly SentCommand[],
  request: ProbeRequest,
  settle: Settle,
  peerAddresses: ReadonlyMap<string, string>,
  giveUp: (command: SentCommand) => void,
): Promise<void> {
  const { clock, deadlineMs } = request;
  const interval = request.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  // An invocation is never terminal at once: wait before the first look rather than spend a call.
  while (sent.some((command) => command.pending.size > 0)) {
    await clock.sleep(Math.max(0, Math.min(interval, deadlineMs - clock.now())));
    await Promise.all(
      sent
        .filter((c) => c.pending.size > 0)
        .map((command) => pollCommand(ssm, command, settle, peerAddresses)),
    );
    for (const command of sent) giveUp(command);
    if (clock.now() >= deadlineMs) return;
  }
}

/** One look at a command's invocations; settles the instances whose invocation is terminal. */
async function pollCommand(
  ssm: SSMClient,
  command: SentCommand,
  settle: Settle,
  peerAddresses: ReadonlyMap<string, string>,
): Promise<void> {
  const invocations: CommandInvocation[] = [];
  try {
    const pages = paginateListCommandInvocations(
      { client: ssm, pageSize: INVOCATIONS_PER_PAGE },
      { CommandId: command.commandId, Details: true },
    );
    for await (const page of pages) invocations.push(...(page.CommandInvocations ?? []));
  } catch (err) {
    // Right after SendCommand the invocations may not be visible yet (eventual consistency), and a throttled
    // poll is worth repeating; the deadline bounds both. Anything else will not get better by asking again.
    const name = awsErrorName(err);
    if (name === 'InvocationDoesNotExist' || name === 'InvalidCommandId' || isThrottle(err)) return;
    for (const instanceId of command.pending) {
      settle(
        instanceId,
        'unknown',
        `ListCommandInvocations failed: ${trim(describeAwsError(err))}`,
        'unreadable',
      );
    }
    command.pending.clear();
    return;
  }
  for (const invocation of invocations) {
    const instanceId = invocation.InstanceId;
    if (instanceId === undefined || !command.pending.has(instanceId)) continue;
    const outcome = invocationOutcome(invocation, peerAddresses.get(instanceId));
    if (outcome === undefined) {
      command.lastSeen.set(instanceId, invocation);
      continue;
    }
    settle(instanceId, outcome.outcome, outcome.detail, outcome.reply, outcome.peer);
    command.pending.delete(instanceId);
  }
}

const NOT_TERMINAL: ReadonlySet<string> = new Set(['Pending', 'InProgress', 'Delayed']);

/**
 * StatusDetails of a terminal invocation that the member never took up: the command waited for its agent until
 * the delivery timeout (DeliveryTimedOut), or SSM gave up delivering it (Undeliverable). See
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
 */
const NOT_DELIVERED: ReadonlySet<string> = new Set(['DeliveryTimedOut', 'Undeliverable']);

/** What one terminal invocation tells: the daemon verdict, how the member replied, and its ping of the partner. */
interface InvocationOutcome {
  readonly outcome: ProbeObservation['outcome'];
  readonly detail: string;
  readonly reply: ProbeReply;
  readonly peer?: PeerReach;
}

/**
 * The probe's outcome from a terminal invocation, or undefined while it is still running. Success means exit 0
 * (https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html); Failed with an exit code of 1 or more means the probe ran and
 * found the daemon unhealthy; a ResponseCode of -1 means it never ran, which says nothing about the daemon.
 * The script's peer lines give `peer` for `peerAddress` and are left out of the detail.
 */
function invocationOutcome(
  invocation: CommandInvocation,
  peerAddress: string | undefined,
): InvocationOutcome | undefined {
  const status = invocation.Status ?? 'Pending';
  if (NOT_TERMINAL.has(status)) return undefined;
  const plugins = invocation.CommandPlugins ?? [];
  const statusDetails = normalisedStatusDetails(invocation);
  const answer = (plugin: readonly { Output?: string | undefined }[]) => {
    const read = scriptOutput(plugin, peerAddress);
    return {
      reply: 'answered' as const,
      ...(read.peer !== undefined && { peer: read.peer }),
      output: read.verdict,
    };
  };
  if (status === 'Success') {
    const { output, ...rest } = answer(plugins);
    return { outcome: 'succeeded', detail: withOutput(statusDetails, output), ...rest };
  }
  if (status === 'Failed') {
    const failed = plugins.find((p) => (p.ResponseCode ?? -1) >= 1);
    if (failed?.ResponseCode === PROBE_EXIT_UNKNOWN) {
      const { output, ...rest } = answer([failed]);
      return {
        outcome: 'unknown',
        detail: withOutput(`${statusDetails}: the probe could not judge the daemon`, output),
        ...rest,
      };
    }
    if (failed) {
      const { output, ...rest } = answer([failed]);
      return {
        outcome: 'failed',
        detail: withOutput(`${statusDetails} (exit ${failed.ResponseCode})`, output),
        ...rest,
      };
    }
    return {
      outcome: 'unknown',
      detail: withOutput(`${statusDetails}: the probe did not run`, pluginOutput(plugins)),
      reply: NOT_DELIVERED.has(statusDetails) ? 'silent' : 'unreadable',
    };
  }
  // TimedOut, Cancelled, Cancelling, and any status newer than this code: the probe gave no verdict. Only a
  // command the member never took up is its silence; one that timed out while running was delivered.
  return {
    outcome: 'unknown',
    detail: withOutput(`${statusDetails}: no probe verdict`, pluginOutput(plugins)),
    reply: NOT_DELIVERED.has(statusDetails) ? 'silent' : 'unreadable',
  };
}

/** The script's verdict text without its peer lines, and the partner's reach from the line for `peerAddress`. */
function scriptOutput(
  plugins: readonly { Output?: string | undefined }[],
  peerAddress: string | undefined,
): { verdict: string; peer?: PeerReach } {
  const lines = plugins.flatMap((p) => (p.Output ?? '').split('\n'));
  let peer: PeerReach | undefined;
  const verdict = lines.filter((line) => {
    const match = PROBE_PEER_LINE.exec(line.trim());
    if (match === null) return true;
    if (match[1] === peerAddress) peer = match[2] as PeerReach;
    return false;
  });
  return { verdict: verdict.join('\n').trim(), ...(peer !== undefined && { peer }) };
}

/** StatusDetails without spaces ("Delivery Timed Out" -> "DeliveryTimedOut"), falling back to Status. */
function normalisedStatusDetails(invocation: CommandInvocation): string {
  const details = invocation.StatusDetails?.replace(/\s+/g, '');
  return details || invocation.Status || 'Pending';
}

function deadlineReason(invocation: CommandInvocation | undefined): string {
  if (invocation === undefined) return 'no invocation visible before the probe deadline';
  return `still ${normalisedStatusDetails(invocation)} at the probe deadline`;
}

/**
 * A command still waiting for the member at the deadline (Pending, Delayed) is the member's silence; one it had
 * started (InProgress) was delivered, and one that never became visible says nothing about the member.
 */
function deadlineReply(invocation: CommandInvocation | undefined): ProbeReply {
  const status = invocation?.Status;
  return status === 'Pending' || status === 'Delayed' ? 'silent' : 'unreadable';
}

function pluginOutput(plugins: readonly { Output?: string | undefined }[]): string {
  return plugins
    .map((p) => p.Output?.trim() ?? '')
    .filter((o) => o !== '')
    .join(' | ');
}

function withOutput(head: string, output: string): string {
  return trim(output === '' ? head : `${head}: ${output}`);
}

/** At most DETAIL_CHARS characters, single line. */
function trim(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= DETAIL_CHARS ? line : `${line.slice(0, DETAIL_CHARS - 1)}…`;
}
