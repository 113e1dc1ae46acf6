import type { Config, PairConfig } from '../shared/config/schema.ts';
import { agentEnabled, destinationKind } from '../shared/config/schema.ts';
import { agentPublishesTunnelMetric } from '../shared/decide/tunnel-source.ts';
import type { InstanceState, Role, StatusSummary } from '../shared/domain/types.ts';
import { ROLES } from '../shared/domain/types.ts';
import type { VirtualClock } from './clock.ts';
import type { MemberFault } from './faults.ts';
import type { LatencyModel, Range } from './latency.ts';
import { runProbe } from './probe-script.ts';
import type { Dice } from './random.ts';
import { TUNNEL_UP_BATCH, TunnelUpPublisher } from './tunnel-publisher.ts';
import { buildAccount } from './world-build.ts';
import {
  type Datapoint,
  metricKey,
  type RouteTarget,
  type SimAddress,
  type SimCommand,
  type SimEni,
  type SimInstance,
  type SimInvocation,
  type SimRoute,
  type SimRouteTable,
  type SimScheduledEvent,
  sameTarget,
  type WorldEvent,
  type WorldOptions,
} from './world-model.ts';

/**
 * The simulated account's state and how it changes over time: instances and their ENIs, status checks and
 * scheduled events, route tables, Elastic IPs, the SSM agent, the VPN daemon and the member agent on each
 * instance, its tunnel and the tunnel metric the member agent publishes (sim/agent.ts models its reports). What
 * the account is made of is in sim/world-model.ts, how it starts in sim/world-build.ts, what the probe script
 * answers in sim/probe-script.ts. SDK calls read and change it through sim/services/*; faults change it
 * directly. Every delay comes from the LatencyModel (sim/latency.ts) through keyed dice, so a seed fixes a run.
 */

/** The simulated account's state. */
export class World {
  readonly config: Config;
  readonly clock: VirtualClock;
  readonly dice: Dice;
  readonly latency: LatencyModel;
  readonly region: string;
  readonly probeDocument: string;
  readonly vpcId: string;
  readonly instances: Map<string, SimInstance>;
  readonly enis: Map<string, SimEni>;
  readonly routeTables: Map<string, SimRouteTable>;
  readonly addresses: Map<string, SimAddress>;
  readonly commands = new Map<string, SimCommand>();
  /** datapoints per metric key (metricKey) in time order */
  readonly metrics = new Map<string, Datapoint[]>();
  readonly #listeners: ((event: WorldEvent) => void)[] = [];

  constructor(options: WorldOptions) {
    this.config = options.config;
    this.clock = options.clock;
    this.dice = options.dice;
    this.latency = options.latency;
    this.region = options.region;
    this.probeDocument = options.probeDocument;
    const account = buildAccount(options);
    this.vpcId = account.vpcId;
    this.instances = account.instances;
    this.enis = account.enis;
    this.routeTables = account.routeTables;
    this.addresses = account.addresses;
    for (const pair of this.config.pairs) this.#startPublishing(pair);
  }

  /** Listen to world events (state changes, route changes...). */
  on(listener: (event: WorldEvent) => void): void {
    this.#listeners.push(listener);
  }

  #emit(event: WorldEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #draw(key: string, range: Range): number {
    return Math.round(this.dice.between(key, range));
  }

  // ---- members --------------------------------------------------------------------------------------------

  /** The instance of a pair's member. */
  member(pair: string, role: Role): SimInstance {
    const config = this.config.pairs.find((p) => p.name === pair);
    const instance = config ? this.instances.get(config[role].instanceId) : undefined;
    if (!instance) throw new Error(`no member ${pair}/${role} in the simulated account`);
    return instance;
  }

  /** The instance if EC2 still shows it (terminated instances vanish after a while). */
  visibleInstance(id: string): SimInstance | undefined {
    const instance = this.instances.get(id);
    if (!instance) return undefined;
    if (
      instance.state === 'terminated' &&
      this.clock.now() - instance.stateSince > this.latency.world.terminatedVisibleFor
    ) {
      return undefined;
    }
    return instance;
  }

  /** The guest OS runs and has its network: the agent, daemon and publisher can work. */
  guestUp(instance: SimInstance): boolean {
    return instance.state === 'running' && !instance.systemFault && !instance.instanceFault;
  }

  /**
   * The member agent runs now: the guest is up, the agent has started after boot (with the guest's other
   * services, agentReadyAt) and nobody stopped it. os-hang, an impaired guest, stop and terminate silence it.
   */
  memberAgentRunning(instance: SimInstance): boolean {
    return (
      this.guestUp(instance) && !instance.memberAgentStopped && this.clock.now() >= instance.agentReadyAt
    );
  }

  /** The SSM agent takes up commands now (SSM can deliver to it). */
  agentOnline(instance: SimInstance): boolean {
    return this.guestUp(instance) && !instance.agentFault && this.clock.now() >= instance.agentReadyAt;
  }

  /**
   * SSM counts the instance an online managed node (PingStatus Online), so SendCommand accepts it: while its
   * agent talks, and after the agent falls silent (ssm-agent-offline, os-hang) until its missed health ping
   * turns it ConnectionLost (LatencyModel ssm.agentConnectionLost). Commands sent meanwhile wait undelivered.
   * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformation.html (PingStatus)
   */
  agentRegistered(instance: SimInstance): boolean {
    if (this.agentOnline(instance)) return true;
    return (
      instance.state === 'running' &&
      instance.agentLostAt !== undefined &&
      this.clock.now() < instance.agentLostAt
    );
  }

  /** The agent falls silent now: SSM notices only when its next health ping is missed. */
  #silenceAgent(instance: SimInstance): void {
    if (!this.agentOnline(instance)) return;
    instance.agentLostAt =
      this.clock.now() +
      this.#draw(`agent lost ${instance.id} ${this.clock.now()}`, this.latency.ssm.agentConnectionLost);
  }

  /** The VPN daemon's unit is active now. */
  daemonActive(instance: SimInstance): boolean {
    return (
      instance.state === 'running' &&
      !instance.instanceFault &&
      !instance.daemonFault &&
      this.clock.now() >= instance.daemonReadyAt
    );
  }

  /** The tunnel is up through this instance now (its SAs are established). */
  tunnelUp(instance: SimInstance): boolean {
    return (
      this.daemonActive(instance) &&
      !instance.systemFault &&
      !instance.tunnelFault &&
      this.clock.now() >= instance.tunnelReadyAt
    );
  }

  /**
   * Ground truth for property checks: the member could carry traffic right now (running, checks' real
   * condition fine, daemon active, tunnel up). A member whose OS or daemon hangs carries none, though its
   * routes stay active (EC2 does not know).
   */
  memberHealthy(instance: SimInstance): boolean {
    return this.guestUp(instance) && this.daemonActive(instance) && this.tunnelUp(instance);
  }

  /** Status-check summaries as DescribeInstanceStatus shows them now. */
  statusOf(instance: SimInstance): { system: StatusSummary; instance: StatusSummary; ebs: StatusSummary } {
    if (instance.state !== 'running')
      return { system: 'not-applicable', instance: 'not-applicable', ebs: 'not-applicable' };
    if (this.clock.now() < instance.initializingUntil) {
      return { system: 'initializing', instance: 'initializing', ebs: 'initializing' };
    }
    return { system: instance.checks.system, instance: instance.checks.instance, ebs: 'ok' };
  }

  #setState(instance: SimInstance, to: InstanceState, reason?: string): void {
    const from = instance.state;
    if (from === to) return;
    instance.state = to;
    instance.stateSince = this.clock.now();
    if (reason !== undefined) instance.stateReason = reason;
    this.#emit({
      kind: 'state-change',
      instanceId: instance.id,
      pair: instance.pair,
      role: instance.role,
      from,
      to,
      ...(reason !== undefined ? { reason } : {}),
    });
  }

  /**
   * Re-read the status checks at the check after next (checks run every minute,
   * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-system-instance-status-check.html), so a fault
   * shows 1-2 minutes after it happens. The instance's check phase is fixed by the seed.
   */
  #scheduleCheck(instance: SimInstance): void {
    const interval = this.latency.world.statusCheckInterval;
    const now = this.clock.now();
    const nextTick =
      now + ((instance.checkPhase - ((now - this.clock.start) % interval) + interval) % interval);
    this.clock.schedule(nextTick + interval, () => this.#readChecks(instance));
  }

  #readChecks(instance: SimInstance): void {
    const system = instance.systemFault ? 'impaired' : 'ok';
    const guest = instance.systemFault || instance.instanceFault ? 'impaired' : 'ok';
    const wasImpaired = instance.checks.system === 'impaired' || instance.checks.instance === 'impaired';
    const impaired = system === 'impaired' || guest === 'impaired';
    const since = impaired ? (wasImpaired ? instance.checks.impairedSince : this.clock.now()) : undefined;
    instance.checks = { system, instance: guest, ...(since !== undefined ? { impairedSince: since } : {}) };
  }

  // ---- lifecycle ------------------------------------------------------------------------------------------

  /** Begin stopping (StopInstances, a stop fault, a retirement). False when the state does not allow it. */
  stop(instance: SimInstance, reason = 'User initiated'): boolean {
    if (instance.state === 'stopping' || instance.state === 'stopped') return true;
    if (instance.state !== 'running' && instance.state !== 'pending') return false;
    instance.cancelTransition?.();
    this.#setState(instance, 'stopping', reason);
    const after = this.#draw(`stop ${instance.id}`, this.latency.world.stop);
    instance.cancelTransition = this.clock.after(after, () => {
      delete instance.cancelTransition;
      this.#setState(instance, 'stopped', reason);
    });
    return true;
  }

  /**
   * Begin starting a stopped instance (StartInstances or a start fault). Returns an error code when EC2 would
   * refuse: IncorrectInstanceState, or InsufficientInstanceCapacity once when the fault is armed.
   */
  start(instance: SimInstance): 'ok' | 'IncorrectInstanceState' | 'InsufficientInstanceCapacity' {
    if (instance.state === 'running' || instance.state === 'pending') return 'ok';
    if (instance.state !== 'stopped') return 'IncorrectInstanceState';
    if (instance.capacityFault) {
      instance.capacityFault = false;
      this.#emit({
        kind: 'start-failed',
        instanceId: instance.id,
        pair: instance.pair,
        role: instance.role,
        reason: `InsufficientInstanceCapacity: no ${instance.instanceType} capacity in ${instance.availabilityZone}`,
      });
      return 'InsufficientInstanceCapacity';
    }
    this.#setState(instance, 'pending', 'User initiated');
    const after = this.#draw(`start ${instance.id}`, this.latency.world.startToRunning);
    instance.cancelTransition = this.clock.after(after, () => {
      delete instance.cancelTransition;
      this.#boot(instance);
    });
    return 'ok';
  }

  /** pending -> running on (probably) new hardware: checks initialise, the guest's services come up. */
  #boot(instance: SimInstance): void {
    const now = this.clock.now();
    const w = this.latency.world;
    // A stop/start moves the instance to new hardware: host and guest impairments clear, and a pending
    // retirement no longer applies to it.
    instance.systemFault = false;
    instance.instanceFault = false;
    instance.osHung = false;
    instance.memberAgentStopped = false;
    delete instance.agentLostAt;
    instance.checks = { system: 'ok', instance: 'ok' };
    for (const event of instance.events) {
      if (!event.description.startsWith('[')) event.description = `[Completed] ${event.description}`;
    }
    instance.initializingUntil = now + this.#draw(`initializing ${instance.id}`, w.statusInitializing);
    instance.agentReadyAt = now + this.#draw(`agent boot ${instance.id}`, w.agentBoot);
    instance.daemonReadyAt = now + this.#draw(`daemon boot ${instance.id}`, w.daemonBoot);
    instance.tunnelReadyAt = instance.daemonReadyAt + this.#draw(`tunnel ${instance.id}`, w.tunnelEstablish);
    this.#setState(instance, 'running');
  }

  /**
   * Begin terminating. When done the ENIs marked DeleteOnTermination (the primary one) are deleted and the others
   * detached (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NetworkInterfaceAttachment.html).
   */
  terminate(instance: SimInstance): void {
    if (instance.state === 'terminated' || instance.state === 'shutting-down') return;
    instance.cancelTransition?.();
    this.#setState(instance, 'shutting-down', 'User initiated');
    const after = this.#draw(`terminate ${instance.id}`, this.latency.world.terminate);
    instance.cancelTransition = this.clock.after(after, () => {
      delete instance.cancelTransition;
      for (const eniId of instance.enis) {
        const eni = this.enis.get(eniId);
        if (!eni) continue;
        delete eni.instanceId;
        delete eni.deviceIndex;
        if (eni.deleteOnTermination) {
          eni.deleted = true;
          for (const address of this.addresses.values()) {
            if (address.eni === eniId) {
              delete address.eni;
              delete address.associationId;
              this.#emit({ kind: 'elastic-ip', allocationId: address.allocationId, eni: undefined });
            }
          }
        }
      }
      instance.enis = [];
      this.#setState(instance, 'terminated', 'User initiated');
    });
  }

  /** Change the type of a stopped instance (ModifyInstanceAttribute). */
  setInstanceType(instance: SimInstance, type: string): void {
    const from = instance.instanceType;
    if (from === type) return;
    instance.instanceType = type;
    this.#emit({
      kind: 'instance-type',
      instanceId: instance.id,
      pair: instance.pair,
      role: instance.role,
      from,
      to: type,
    });
  }

  // ---- faults ---------------------------------------------------------------------------------------------

  /**
   * Inject a fault into a member (the README's scenario file description). `leadMs` is how far ahead a scheduled retirement
   * is announced. Returns a note when the fault had no effect in the member's current state.
   */
  applyFault(instance: SimInstance, fault: MemberFault, leadMs?: number): string | undefined {
    const now = this.clock.now();
    const w = this.latency.world;
    switch (fault) {
      case 'stop':
        return this.stop(instance) ? undefined : `cannot stop a ${instance.state} instance`;
      case 'start': {
        const result = this.start(instance);
        return result === 'ok'
          ? undefined
          : result === 'IncorrectInstanceState'
            ? `cannot start a ${instance.state} instance`
            : result;
      }
      case 'terminate':
        this.terminate(instance);
        return undefined;
      case 'system-impaired':
        instance.systemFault = true;
        this.#scheduleCheck(instance);
        return undefined;
      case 'instance-impaired':
        instance.instanceFault = true;
        this.#scheduleCheck(instance);
        return undefined;
      case 'status-ok':
        this.#recoverGuest(instance);
        return undefined;
      case 'os-hang':
        // https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-system-instance-status-check.html:
        // the instance stays running; the instance status check (run every minute) fails, and shows impaired
        // at the check after next like any impairment here. The agent and the tunnel publisher stop with the
        // OS, and traffic through the member is lost though its routes stay active.
        if (instance.state !== 'running') return `cannot hang the OS of a ${instance.state} instance`;
        this.#silenceAgent(instance);
        instance.osHung = true;
        instance.instanceFault = true;
        this.#scheduleCheck(instance);
        return undefined;
      case 'os-recover':
        if (!instance.osHung) return 'the OS is not hung';
        this.#recoverGuest(instance);
        return undefined;
      case 'daemon-hang':
        instance.daemonFault = true;
        instance.daemonHung = true;
        return undefined;
      case 'daemon-down':
        instance.daemonFault = true;
        instance.daemonHung = false;
        return undefined;
      case 'daemon-up':
        if (instance.daemonFault) {
          instance.daemonFault = false;
          instance.daemonHung = false;
          instance.daemonReadyAt = Math.max(instance.daemonReadyAt, now);
          instance.tunnelReadyAt =
            Math.max(instance.daemonReadyAt, now) + this.#draw(`tunnel ${instance.id}`, w.tunnelEstablish);
        }
        return undefined;
      case 'tunnel-down':
        instance.tunnelFault = true;
        return undefined;
      case 'tunnel-up':
        if (instance.tunnelFault) {
          instance.tunnelFault = false;
          instance.tunnelReadyAt =
            Math.max(instance.daemonReadyAt, now) + this.#draw(`tunnel ${instance.id}`, w.tunnelEstablish);
        }
        return undefined;
      case 'ssm-agent-offline':
        // Only the agent stops: daemon, tunnel, publisher, traffic and the answer to the partner's ping stay.
        this.#silenceAgent(instance);
        instance.agentFault = true;
        return undefined;
      case 'ssm-agent-online':
        instance.agentFault = false;
        if (!instance.osHung) delete instance.agentLostAt;
        return undefined;
      case 'agent-stop':
        // Only the member agent's process: its reports and its TunnelUp datapoints stop, nothing else changes.
        if (instance.memberAgentStopped) return 'the member agent is already stopped';
        instance.memberAgentStopped = true;
        return undefined;
      case 'agent-start':
        if (!instance.memberAgentStopped) return 'the member agent is already running';
        instance.memberAgentStopped = false;
        return undefined;
      case 'scheduled-retirement': {
        const notBefore = now + (leadMs ?? w.retirementNotice);
        const event: SimScheduledEvent = {
          id: `instance-event-0${this.dice.hex(`event ${instance.id} ${now}`, 16)}`,
          code: 'instance-retirement',
          description: 'The instance is running on degraded hardware',
          notBefore,
          notAfter: notBefore + 7 * 24 * 3600 * 1000,
        };
        instance.events.push(event);
        // On the day, EC2 stops an EBS-backed instance that is still on the retiring hardware.
        this.clock.schedule(notBefore, () => {
          if (event.description.startsWith('[')) return;
          event.description = `[Completed] ${event.description}`;
          this.stop(instance, 'Instance retirement');
        });
        return undefined;
      }
      case 'insufficient-capacity':
        instance.capacityFault = true;
        return undefined;
    }
  }

  /**
   * status-ok, os-recover: host and guest impairments clear. A guest that was down comes back as from a reboot:
   * its agent, daemon and tunnel restart after their boot delays, and the checks read ok at the check after next.
   */
  #recoverGuest(instance: SimInstance): void {
    const now = this.clock.now();
    const w = this.latency.world;
    const wasGuestDown = instance.systemFault || instance.instanceFault;
    instance.systemFault = false;
    instance.instanceFault = false;
    // SSM may still count the node online (agentLostAt not reached): commands wait for the restarted agent.
    instance.osHung = false;
    if (wasGuestDown) {
      instance.memberAgentStopped = false;
      instance.agentReadyAt = Math.max(
        instance.agentReadyAt,
        now + this.#draw(`agent boot ${instance.id}`, w.agentBoot),
      );
      instance.daemonReadyAt = Math.max(
        instance.daemonReadyAt,
        now + this.#draw(`daemon boot ${instance.id}`, w.daemonBoot),
      );
      instance.tunnelReadyAt =
        instance.daemonReadyAt + this.#draw(`tunnel ${instance.id}`, w.tunnelEstablish);
    }
    this.#scheduleCheck(instance);
  }

  // ---- routes and addresses -------------------------------------------------------------------------------

  /** The target reads show now (the old one for a short while after a write). */
  visibleTarget(route: SimRoute): RouteTarget {
    return route.stale !== undefined && this.clock.now() < route.stale.until
      ? route.stale.target
      : route.target;
  }

  /** A route's state: active while its ENI is attached to a running instance, else blackhole. */
  routeState(target: RouteTarget): 'active' | 'blackhole' {
    if (target.kind !== 'eni') return 'active';
    const eni = this.enis.get(target.eni);
    if (!eni || eni.deleted || eni.instanceId === undefined) return 'blackhole';
    return this.instances.get(eni.instanceId)?.state === 'running' ? 'active' : 'blackhole';
  }

  /**
   * Point a route at a new target (ReplaceRoute or CreateRoute); reads show the old target for a while
   * (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html).
   */
  writeRoute(
    table: SimRouteTable,
    route: SimRoute | undefined,
    destination: string,
    kind: SimRoute['destinationKind'],
    target: RouteTarget,
  ): void {
    const lag = this.#draw(`route lag ${table.id} ${destination}`, this.latency.consistency.routeReadLag);
    if (route) {
      const from = route.target;
      if (lag > 0) route.stale = { target: this.visibleTarget(route), until: this.clock.now() + lag };
      route.target = target;
      if (!sameTarget(from, target)) {
        this.#emit({
          kind: 'route-change',
          routeTableId: table.id,
          destination: route.destination,
          from,
          to: target,
          action: 'replaced',
        });
      }
      return;
    }
    table.routes.set(destination.toLowerCase(), {
      destination,
      destinationKind: kind,
      target,
      origin: 'CreateRoute',
    });
    this.#emit({
      kind: 'route-change',
      routeTableId: table.id,
      destination,
      from: undefined,
      to: target,
      action: 'created',
    });
  }

  /**
   * The foreign-route fault: someone outside the controller (a console edit, another tool) points a managed
   * route at a NAT gateway outside the pair, as ReplaceRoute would (CreateRoute when the route is missing).
   * The scenario names one of the pair's managed routes, so the table exists.
   */
  pointRouteOutside(routeTableId: string, destination: string): void {
    const table = this.routeTables.get(routeTableId);
    if (!table) throw new Error(`no route table ${routeTableId} in the simulated account`);
    const route = table.routes.get(destination.toLowerCase());
    const id = `nat-0${this.dice.hex(`foreign route ${routeTableId} ${destination}`, 16)}`;
    const kind = route?.destinationKind ?? destinationKind(destination) ?? 'ipv4';
    this.writeRoute(table, route, route?.destination ?? destination, kind, {
      kind: 'gateway',
      field: 'NatGatewayId',
      id,
    });
  }

  /** Move an Elastic IP to an ENI (AssociateAddress). Returns the association id. */
  associateAddress(address: SimAddress, eni: string): string {
    if (address.eni === eni && address.associationId) return address.associationId;
    address.eni = eni;
    address.associationId = `eipassoc-0${this.dice.hex(`assoc ${address.allocationId} ${this.clock.now()}`, 16)}`;
    this.#emit({ kind: 'elastic-ip', allocationId: address.allocationId, eni });
    return address.associationId;
  }

  // ---- SSM ------------------------------------------------------------------------------------------------

  /** Start a command on instances whose agents are online (the caller has checked). */
  sendCommand(command: Omit<SimCommand, 'invocations'>): SimCommand {
    const full: SimCommand = { ...command, invocations: new Map() };
    const s = this.latency.ssm;
    for (const instanceId of command.instanceIds) {
      const key = `${command.id} ${instanceId}`;
      const visibleAt = command.requestedAt + this.#draw(`ssm visible ${key}`, s.invocationVisible);
      const invocation: SimInvocation = {
        instanceId,
        visibleAt,
        status: 'Pending',
        statusDetails: 'Pending',
        responseCode: -1,
        output: '',
      };
      full.invocations.set(instanceId, invocation);
      const deliverAt = visibleAt + this.#draw(`ssm delivery ${key}`, s.delivery);
      this.clock.schedule(deliverAt, () => this.#deliver(full, invocation));
      // Not taken up by the agent within TimeoutSeconds plus the document's execution timeout: it never runs and
      // ends TimedOut, "Delivery Timed Out" (https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html).
      this.clock.schedule(this.deliveryDeadline(command), () => {
        if (invocation.status !== 'Pending') return;
        invocation.status = 'TimedOut';
        invocation.statusDetails = 'Delivery Timed Out';
        invocation.endedAt = this.clock.now();
      });
    }
    this.commands.set(full.id, full);
    return full;
  }

  /** When an invocation still undelivered ends as Delivery Timed Out. */
  deliveryDeadline(command: Pick<SimCommand, 'requestedAt' | 'timeoutSeconds'>): number {
    return command.requestedAt + command.timeoutSeconds * 1000 + this.latency.ssm.executionTimeoutMs;
  }

  #deliver(command: SimCommand, invocation: SimInvocation): void {
    const instance = this.instances.get(invocation.instanceId);
    // An agent that is silent when the command arrives leaves it Pending until the delivery timeout; one that
    // comes back before then takes it up.
    if (invocation.status !== 'Pending' || !instance || !this.agentOnline(instance)) {
      if (invocation.status === 'Pending' && instance) {
        this.clock.after(1000, () => this.#deliver(command, invocation));
      }
      return;
    }
    invocation.status = 'InProgress';
    invocation.statusDetails = 'In Progress';
    invocation.startedAt = this.clock.now();
    const result = runProbe(this, command, instance);
    const took =
      this.#draw(`ssm execution ${command.id} ${instance.id}`, this.latency.ssm.execution) + result.waitedMs;
    this.clock.after(Math.min(took, this.latency.ssm.executionTimeoutMs), () => {
      invocation.status = result.exitCode === 0 ? 'Success' : 'Failed';
      invocation.statusDetails = invocation.status;
      invocation.responseCode = result.exitCode;
      invocation.output = result.output;
      invocation.endedAt = this.clock.now();
    });
  }
  // ---- tunnel metrics -------------------------------------------------------------------------------------

  /**
   * Each member's agent takes its tunnel state once a period (TunnelUp, as the publisher it replaced did) and
   * puts it as sim/tunnel-publisher.ts says (an up tunnel's datapoints in batches); the account starts with some
   * history. The value is the tunnel's real state: the installed CHILD SAs the
   * agent's check counts (strongswan, libreswan), or the PING_TARGET across the tunnel it may be given.
   */
  #startPublishing(pair: PairConfig): void {
    const tunnel = pair.tunnel;
    if (!tunnel) return;
    const interval = Math.min(this.latency.metrics.publishInterval, tunnel.period * 1000);
    for (const role of ROLES) {
      const instance = this.instances.get(pair[role].instanceId);
      if (!instance) continue;
      const key = metricKey(
        tunnel.namespace,
        tunnel.metricName,
        tunnel.dimensions?.[role] ?? { InstanceId: instance.id },
      );
      const series = this.metrics.get(key) ?? [];
      this.metrics.set(key, series);
      const phase = Math.floor(this.dice.between(`publish phase ${instance.id}`, [0, interval]));
      const first = this.clock.now() + phase;
      for (let at = first - interval; at >= this.clock.now() - this.latency.metrics.history; at -= interval) {
        series.unshift({ at, value: 1, visibleAt: at });
      }
      // The agent batches an up tunnel's datapoints only while its reports stand for them.
      const publisher = new TunnelUpPublisher(
        agentEnabled(this.config, pair) && agentPublishesTunnelMetric(pair) ? TUNNEL_UP_BATCH : 1,
      );
      const tick = (at: number) => {
        this.clock.schedule(at, () => {
          // The agent runs on the instance: nothing is put while the guest is down or booting, or the agent stopped.
          if (this.memberAgentRunning(instance)) {
            const now = this.clock.now();
            const delay = this.#draw(`metric visible ${key}`, this.latency.metrics.visibility);
            for (const point of publisher.take(now, this.tunnelUp(instance) ? 1 : 0)) {
              series.push({ ...point, visibleAt: now + delay });
            }
          } else {
            publisher.stop();
          }
          tick(at + interval);
        });
      };
      tick(first);
    }
  }
}
