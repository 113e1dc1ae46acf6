import { type AgentItem, putAgentItem } from '../shared/aws/agent-table.ts';
import type { AwsClients } from '../shared/aws/clients.ts';
import { agentEnabled, type PairConfig } from '../shared/config/schema.ts';
import type { ControllerDeps } from '../shared/controller/types.ts';
import {
  AGENT_HEARTBEAT_MS,
  AGENT_ITEM,
  type AgentReportKind,
  type AgentVerdict,
  agentMemberKey,
} from '../shared/domain/agent.ts';
import type { Role } from '../shared/domain/types.ts';
import { ROLES } from '../shared/domain/types.ts';
import { PROBE_EXIT_NOT_RESPONDING } from '../shared/telemetry-names.ts';
import type { Range } from './latency.ts';
import { daemonCheck } from './probe-script.ts';
import type { World } from './world.ts';
import { ACCOUNT_ID, type SimInstance } from './world-model.ts';

/**
 * The member agent (instance/vpn-failover-agent.sh) on each member of a pair with the agent enabled: a loop
 * that runs the daemon check (the SSM probe's script, sim/probe-script.ts) with the pair's probe settings,
 * debounces its verdict, writes a report item into the agent table on a change and as a heartbeat, and the
 * table's stream that hands `kind: change` records to the controller as the Lambda event source mapping would.
 * A TunnelUp that changes while the verdict holds is written at once too (as a heartbeat: the stream does not
 * invoke the controller), so a report's TunnelUp is never older than the write. The TunnelUp metric it also
 * publishes is modelled by the World with sim/tunnel-publisher.ts (it stops with the agent). Timing from
 * LatencyModel.agent (sim/latency.ts).
 */

/** DEBOUNCE: consecutive checks that must agree before a new verdict is reported (agent default 2). */
export const AGENT_DEBOUNCE = 2;

/** What the simulated agents say they are (agentVersion). */
export const SIM_AGENT_VERSION = 'sim';

/** The AWS partition of the simulated account (IMDS meta-data/services/partition). */
const PARTITION = 'aws';

/**
 * The agents' loops run on a 10 ms grid: every step of every agent due in the same 10 ms runs in one step of the
 * virtual clock. A thousand agents checking every second would otherwise cost the clock a thousand steps per
 * virtual second; 10 ms is far below anything the figures resolve.
 */
const GRID_MS = 10;

/** The agent table's stream ARN suffix: the stream's creation label (the virtual epoch). */
const STREAM_LABEL = '2026-01-01T00:00:00.000';

/** A report the agent wrote into the table. */
export interface WrittenReport {
  readonly pair: string;
  readonly role: Role;
  readonly instanceId: string;
  readonly verdict: AgentVerdict;
  readonly detail: string;
  readonly exitStatus: number;
  readonly kind: AgentReportKind;
  /** epoch ms the agent sent it */
  readonly at: number;
  /** epoch ms the current verdict was first seen */
  readonly since: number;
  readonly seq: number;
}

/** The DynamoDB Streams event the event source mapping invokes the controller with. */
export interface StreamEvent {
  readonly Records: readonly Record<string, unknown>[];
}

/** The check's exit status as the agent's verdict: 0 healthy, 1 and 4 unhealthy, anything else unknown. */
export function verdictOfExit(exitStatus: number): AgentVerdict {
  if (exitStatus === 0) return 'healthy';
  if (exitStatus === 1 || exitStatus === PROBE_EXIT_NOT_RESPONDING) return 'unhealthy';
  return 'unknown';
}

/** A verdict as the agent holds it: what the check said, and since when. */
interface Held {
  readonly verdict: AgentVerdict;
  readonly exitStatus: number;
  readonly detail: string;
  readonly since: number;
}

/** One agent process's memory; a restarted process starts from nothing. */
interface Process {
  seq: number;
  /** the verdict last reported (the debounced state) */
  reported?: Held;
  /** the verdict the latest checks agree on, and how many of them */
  candidate?: Held & { count: number };
  /** epoch ms of the last report written */
  lastReportAt: number;
  /** a report still to write: set on a change or a heartbeat, cleared by a successful write */
  pending?: AgentReportKind;
  /** the TunnelUp of the last report written (undefined: not judged, or nothing written yet) */
  tunnelUp?: 0 | 1;
}

/** Options of the agents of a simulated account. */
export interface AgentOptions {
  readonly world: World;
  /** the DynamoDB client the agents write with (the instances' own credentials) */
  readonly dynamo: AwsClients['dynamo'];
  readonly tableName: string;
}

/** The agents of every member of the pairs with the agent enabled. */
export class MemberAgents {
  readonly #world: World;
  readonly #dynamo: AwsClients['dynamo'];
  readonly tableName: string;
  /** the prefix of every member's key: arn:PARTITION:ec2:REGION:ACCOUNT:instance/ */
  readonly memberKeyPrefix: string;
  readonly #reportListeners: ((report: WrittenReport) => void)[] = [];
  readonly #streamListeners: ((event: StreamEvent) => void)[] = [];
  /** member keys the table holds an item for (the stream says INSERT for the first, MODIFY after) */
  readonly #written = new Set<string>();
  /** agent steps waiting for a grid instant, by that instant (epoch ms) */
  readonly #due = new Map<number, (() => void)[]>();
  #streamSequence = 0;

  constructor(options: AgentOptions) {
    this.#world = options.world;
    this.#dynamo = options.dynamo;
    this.tableName = options.tableName;
    this.memberKeyPrefix = `arn:${PARTITION}:ec2:${options.world.region}:${ACCOUNT_ID}:instance/`;
  }

  /** The pairs whose members run a reporting agent. */
  pairs(): PairConfig[] {
    const { config } = this.#world;
    return config.pairs.filter((pair) => agentEnabled(config, pair));
  }

  /**
   * What the controller's Lambda gets about the agent table, as the CDK app deploys it: the table and the key
   * prefix when some pair has the agent enabled, nothing otherwise.
   */
  controllerDeps(): Pick<ControllerDeps, 'agentTableName' | 'agentMemberKeyPrefix'> {
    return this.pairs().length > 0
      ? { agentTableName: this.tableName, agentMemberKeyPrefix: this.memberKeyPrefix }
      : {};
  }

  /** Be told of every report written (changes and heartbeats). */
  onReport(listener: (report: WrittenReport) => void): void {
    this.#reportListeners.push(listener);
  }

  /** Be told of every stream event that invokes the controller (changes only, as the mapping's filter lets through). */
  onStream(listener: (event: StreamEvent) => void): void {
    this.#streamListeners.push(listener);
  }

  /**
   * Start every agent. The account starts in a steady state: each running agent has been up for a while, holds
   * its current verdict and wrote its last heartbeat some time within the last heartbeat period (its item is in
   * the table already).
   */
  async start(): Promise<void> {
    const world = this.#world;
    const writes: Promise<void>[] = [];
    for (const pair of this.pairs()) {
      for (const role of ROLES) {
        const instance = world.member(pair.name, role);
        const process: Process = { seq: 0, lastReportAt: 0 };
        if (world.memberAgentRunning(instance)) {
          const now = world.clock.now();
          const check = this.#check(pair, instance);
          const held: Held = {
            verdict: verdictOfExit(check.exitCode),
            exitStatus: check.exitCode,
            detail: check.line,
            since: now - world.latency.metrics.history,
          };
          process.reported = held;
          process.candidate = { ...held, count: AGENT_DEBOUNCE };
          process.seq = Math.floor(world.latency.metrics.history / AGENT_HEARTBEAT_MS);
          process.lastReportAt =
            now - this.#draw(`agent heartbeat phase ${instance.id}`, [0, AGENT_HEARTBEAT_MS]);
          writes.push(this.#put(pair, instance, process, 'heartbeat', process.lastReportAt, held));
        }
        const first = this.#draw(`agent phase ${instance.id}`, [0, world.latency.agent.checkInterval]);
        this.#at(world.clock.now() + first, () => this.#tick(pair, instance, process));
      }
    }
    await Promise.all(writes);
  }

  /** Run an agent's step at `at` (epoch ms), rounded up to the grid (GRID_MS). */
  #at(at: number, step: () => void): void {
    const { clock } = this.#world;
    const instant = clock.start + Math.ceil((Math.max(at, clock.now()) - clock.start) / GRID_MS) * GRID_MS;
    const waiting = this.#due.get(instant);
    if (waiting) {
      waiting.push(step);
      return;
    }
    this.#due.set(instant, [step]);
    clock.schedule(instant, () => {
      const steps = this.#due.get(instant) ?? [];
      this.#due.delete(instant);
      for (const run of steps) run();
    });
  }

  #draw(key: string, range: Range): number {
    return Math.round(this.#world.dice.between(key, range));
  }

  #check(pair: PairConfig, instance: SimInstance) {
    const probe = pair.probe;
    return daemonCheck(
      this.#world,
      instance,
      {
        kind: probe.kind,
        unit: probe.kind === 'systemd' ? probe.unit : '',
        minSas: probe.kind === 'strongswan' || probe.kind === 'libreswan' ? String(probe.minSas) : '',
      },
      this.#world.latency.agent.checkTimeout,
    );
  }

  /**
   * One turn of the agent's loop: check, debounce, write if due; the next turn starts CHECK_INTERVAL after this
   * one started, or at once when the check and the write took longer (instance/vpn-failover-agent.sh main).
   */
  #tick(pair: PairConfig, instance: SimInstance, process: Process): void {
    const world = this.#world;
    const { clock } = world;
    const timing = world.latency.agent;
    const startedAt = clock.now();
    // A check that disagrees with the reported verdict is followed sooner (RECHECK_MS in the script).
    const again = () => {
      const candidate = process.candidate;
      const confirming =
        candidate !== undefined &&
        candidate.verdict !== process.reported?.verdict &&
        candidate.count < AGENT_DEBOUNCE;
      const interval = confirming ? Math.min(timing.recheck, timing.checkInterval) : timing.checkInterval;
      this.#at(startedAt + interval, () => this.#tick(pair, instance, process));
    };
    if (!world.memberAgentRunning(instance)) {
      // The process is gone (or never started since boot): the next one starts from nothing.
      Object.assign(process, { seq: 0, lastReportAt: 0 });
      delete process.reported;
      delete process.candidate;
      delete process.pending;
      delete process.tunnelUp;
      again();
      return;
    }
    const check = this.#check(pair, instance);
    const took =
      check.waitedMs > 0
        ? check.waitedMs
        : this.#draw(`agent check ${instance.id} ${startedAt}`, timing.checkCommand);
    this.#at(startedAt + took, () => {
      if (!world.memberAgentRunning(instance)) {
        again();
        return;
      }
      this.#judge(process, check.exitCode, check.line, startedAt);
      const now = clock.now();
      if (
        process.pending === undefined &&
        process.reported &&
        (now - process.lastReportAt >= AGENT_HEARTBEAT_MS ||
          this.#tunnelUp(instance, process.reported) !== process.tunnelUp)
      )
        process.pending = 'heartbeat';
      const kind = process.pending;
      const held = process.reported;
      if (kind === undefined || held === undefined) {
        again();
        return;
      }
      // The write (curl's signed PutItem) holds up the loop, as the agent's bash loop does.
      const writing = this.#draw(`agent write ${instance.id} ${now}`, timing.reportWrite);
      this.#at(now + writing, () => {
        if (!world.memberAgentRunning(instance)) {
          again();
          return;
        }
        this.#put(pair, instance, process, kind, now, held).then(
          () => again(),
          () => again(),
        );
      });
    });
  }

  /** Debounce one check's result (agent-protocol: DEBOUNCE agreeing checks, one for a timed-out check). */
  #judge(process: Process, exitStatus: number, detail: string, checkedAt: number): void {
    const verdict = verdictOfExit(exitStatus);
    const candidate = process.candidate;
    process.candidate =
      candidate?.verdict === verdict
        ? { ...candidate, exitStatus, detail, count: candidate.count + 1 }
        : { verdict, exitStatus, detail, since: checkedAt, count: 1 };
    const agreed = process.candidate;
    const needed = exitStatus === PROBE_EXIT_NOT_RESPONDING ? 1 : AGENT_DEBOUNCE;
    if (process.reported?.verdict === verdict) {
      process.reported = { ...process.reported, exitStatus, detail };
    } else if (agreed.count >= needed) {
      process.reported = { verdict, exitStatus, detail, since: agreed.since };
      process.pending = 'change';
    }
  }

  /** Write a report item; on success the pending report is done and a change goes down the stream. */
  async #put(
    pair: PairConfig,
    instance: SimInstance,
    process: Process,
    kind: AgentReportKind,
    at: number,
    held: Held,
  ): Promise<void> {
    const seq = process.seq + 1;
    const item = this.#item(instance, kind, at, seq, held);
    await this.#world.clock.track(() => putAgentItem(this.#dynamo, this.tableName, item));
    process.seq = seq;
    process.lastReportAt = at;
    process.tunnelUp = this.#tunnelUp(instance, held);
    delete process.pending;
    const report: WrittenReport = {
      pair: pair.name,
      role: instance.role,
      instanceId: instance.id,
      verdict: held.verdict,
      detail: held.detail,
      exitStatus: held.exitStatus,
      kind,
      at,
      since: held.since,
      seq,
    };
    for (const listener of this.#reportListeners) listener(report);
    const key = agentMemberKey(this.memberKeyPrefix, instance.id);
    const inserted = !this.#written.has(key);
    this.#written.add(key);
    if (kind === 'change') this.#stream(key, item, inserted);
  }

  /**
   * TunnelUp as the agent publishes it: 0 while its verdict is unhealthy, not judged while unknown, and while
   * healthy the tunnel's real state (as World's metric model: the check's CHILD SAs or its PING_TARGET).
   */
  #tunnelUp(instance: SimInstance, held: Held): 0 | 1 | undefined {
    if (held.verdict === 'unknown') return undefined;
    return held.verdict === 'healthy' && this.#world.tunnelUp(instance) ? 1 : 0;
  }

  /** The item exactly as the agent's put-item sends it (agent-protocol: attributes of AGENT_ITEM). */
  #item(instance: SimInstance, kind: AgentReportKind, at: number, seq: number, held: Held): AgentItem {
    const n = (value: number) => ({ N: String(value) });
    const up = this.#tunnelUp(instance, held);
    const tunnelUp: AgentItem = up === undefined ? {} : { [AGENT_ITEM.tunnelUp]: n(up) };
    return {
      [AGENT_ITEM.member]: { S: agentMemberKey(this.memberKeyPrefix, instance.id) },
      [AGENT_ITEM.instanceId]: { S: instance.id },
      [AGENT_ITEM.verdict]: { S: held.verdict },
      [AGENT_ITEM.detail]: { S: held.detail },
      [AGENT_ITEM.exitStatus]: n(held.exitStatus),
      ...tunnelUp,
      [AGENT_ITEM.since]: n(held.since),
      [AGENT_ITEM.at]: n(at),
      [AGENT_ITEM.kind]: { S: kind },
      [AGENT_ITEM.seq]: n(seq),
      [AGENT_ITEM.agentVersion]: { S: SIM_AGENT_VERSION },
      [AGENT_ITEM.expiresAt]: n(Math.floor(at / 1000) + 86_400),
    };
  }

  /** The stream record of a change, delivered to the controller after the stream's delay. */
  #stream(key: string, item: AgentItem, inserted: boolean): void {
    const world = this.#world;
    const now = world.clock.now();
    const sequence = ++this.#streamSequence;
    const record = {
      eventID: world.dice.hex(`stream record ${key} ${now}`, 32),
      eventName: inserted ? 'INSERT' : 'MODIFY',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: world.region,
      eventSourceARN: `arn:${PARTITION}:dynamodb:${world.region}:${ACCOUNT_ID}:table/${this.tableName}/stream/${STREAM_LABEL}`,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(now / 1000),
        Keys: { [AGENT_ITEM.member]: { S: key } },
        NewImage: item,
        SequenceNumber: String(sequence).padStart(21, '0'),
        SizeBytes: JSON.stringify(item).length,
        StreamViewType: 'NEW_IMAGE',
      },
    };
    const delay = this.#draw(`stream ${key} ${now}`, world.latency.agent.stream);
    world.clock.after(delay, () => {
      for (const listener of this.#streamListeners) listener({ Records: [record] });
    });
  }
}
