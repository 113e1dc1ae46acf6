import type { Config, PairConfig } from '../shared/config/schema.ts';
import { destinationKind } from '../shared/config/schema.ts';
import { ROLES } from '../shared/domain/types.ts';
import { DEFAULT_INSTANCE_TYPE, INSTANCE_TYPES } from './catalog.ts';
import type { SimAddress, SimEni, SimInstance, SimRouteTable, WorldOptions } from './world-model.ts';

/**
 * The account a World starts with, built from the configuration: each pair's members running the default type
 * with their ENIs, the route tables with the managed routes on the primary and an unmanaged default route, and
 * the pairs' Elastic IPs on the primary. Ids come from keyed dice, so a seed fixes them.
 */

/** The resources of a new simulated account. */
export interface AccountResources {
  readonly vpcId: string;
  readonly instances: Map<string, SimInstance>;
  readonly enis: Map<string, SimEni>;
  readonly routeTables: Map<string, SimRouteTable>;
  readonly addresses: Map<string, SimAddress>;
}

/** Build the account the configuration describes. */
export function buildAccount(options: WorldOptions): AccountResources {
  const account: AccountResources = {
    vpcId: `vpc-0${options.dice.hex('vpc', 16)}`,
    instances: new Map(),
    enis: new Map(),
    routeTables: new Map(),
    addresses: new Map(),
  };
  let ipCounter = 10;
  const privateIp = (): string => {
    const n = ipCounter++;
    return `10.0.${Math.floor(n / 250)}.${(n % 250) + 4}`;
  };
  for (const pair of options.config.pairs) buildPair(options, account, pair, privateIp);
  buildRouteTables(options, account);
  return account;
}

const hexOf = (id: string): string => id.slice(id.indexOf('-') + 1);

/** A VPC CIDR that no configured destination equals, for the tables' local route. */
function localCidr(config: Config): string {
  const taken = new Set(config.pairs.flatMap((p) => p.destinations));
  return ['10.0.0.0/16', '172.31.0.0/16', '100.64.0.0/16'].find((c) => !taken.has(c)) ?? '198.18.0.0/15';
}

/** A pair's two members with their ENIs, and its Elastic IP on the primary. */
function buildPair(
  options: WorldOptions,
  account: AccountResources,
  pair: PairConfig,
  privateIp: () => string,
): void {
  ROLES.forEach((role, index) => {
    const member = pair[role];
    const zone = `${options.region}${'abc'[index] ?? 'a'}`;
    const subnetId = `subnet-0${options.dice.hex(`subnet ${zone}`, 16)}`;
    const primaryEni = uniqueEniId(options, `eni-${hexOf(member.instanceId)}`, member.instanceId);
    const enis = [primaryEni];
    account.enis.set(primaryEni, {
      id: primaryEni,
      subnetId,
      privateIp: privateIp(),
      instanceId: member.instanceId,
      deviceIndex: 0,
      deleteOnTermination: true,
      deleted: false,
    });
    if (member.networkInterfaceId !== undefined) {
      // A dedicated routing ENI attached after launch: it outlives the instance (DeleteOnTermination false).
      enis.push(member.networkInterfaceId);
      account.enis.set(member.networkInterfaceId, {
        id: member.networkInterfaceId,
        subnetId,
        privateIp: privateIp(),
        instanceId: member.instanceId,
        deviceIndex: 1,
        deleteOnTermination: false,
        deleted: false,
      });
    }
    const spec = INSTANCE_TYPES.get(DEFAULT_INSTANCE_TYPE);
    const now = options.clock.now();
    account.instances.set(member.instanceId, {
      id: member.instanceId,
      pair: pair.name,
      role,
      availabilityZone: zone,
      subnetId,
      imageId: `ami-0${options.dice.hex(`ami ${spec?.architecture ?? 'x86_64'}`, 16)}`,
      launchTime: now - 30 * 24 * 3600 * 1000,
      instanceType: DEFAULT_INSTANCE_TYPE,
      state: 'running',
      stateSince: now,
      enis,
      routeTargetEni: member.networkInterfaceId ?? primaryEni,
      daemonUnit: pair.probe.kind === 'systemd' ? pair.probe.unit : pair.probe.kind,
      checkPhase: Math.floor(
        options.dice.between(`check phase ${member.instanceId}`, [
          0,
          options.latency.world.statusCheckInterval,
        ]),
      ),
      sourceDestCheck: false,
      systemFault: false,
      instanceFault: false,
      agentFault: false,
      memberAgentStopped: false,
      daemonFault: false,
      tunnelFault: false,
      capacityFault: false,
      daemonHung: false,
      osHung: false,
      checks: { system: 'ok', instance: 'ok' },
      initializingUntil: now,
      agentReadyAt: now,
      daemonReadyAt: now,
      tunnelReadyAt: now,
      events: [],
    });
  });
  if (pair.elasticIp) {
    const n = account.addresses.size + 10;
    const primary = account.instances.get(pair.primary.instanceId);
    account.addresses.set(pair.elasticIp.allocationId, {
      allocationId: pair.elasticIp.allocationId,
      publicIp: `203.0.113.${n}`,
      ...(primary ? { eni: primary.routeTargetEni } : {}),
      associationId: `eipassoc-0${options.dice.hex(`assoc ${pair.elasticIp.allocationId} 0`, 16)}`,
    });
  }
}

/** The derived ENI id, unless a configured ENI already uses it. */
function uniqueEniId(options: WorldOptions, candidate: string, instanceId: string): string {
  const configured = new Set(
    options.config.pairs.flatMap((p) => ROLES.flatMap((r) => p[r].networkInterfaceId ?? [])),
  );
  return configured.has(candidate) ? `eni-0${options.dice.hex(`eni ${instanceId}`, 16)}` : candidate;
}

/** The pairs' route tables, each with its local route, the managed routes on the primary and a default route. */
function buildRouteTables(options: WorldOptions, account: AccountResources): void {
  const local = localCidr(options.config);
  const ensure = (id: string): SimRouteTable => {
    const existing = account.routeTables.get(id);
    if (existing) return existing;
    const table: SimRouteTable = { id, vpcId: account.vpcId, routes: new Map() };
    table.routes.set(local, {
      destination: local,
      destinationKind: 'ipv4',
      target: { kind: 'local' },
      origin: 'CreateRouteTable',
    });
    account.routeTables.set(id, table);
    return table;
  };
  for (const pair of options.config.pairs) {
    const primary = account.instances.get(pair.primary.instanceId);
    if (!primary) continue;
    for (const tableId of pair.routeTables) {
      const table = ensure(tableId);
      for (const destination of pair.destinations) {
        const kind = destinationKind(destination) ?? 'ipv4';
        const shown = kind === 'ipv6' ? destination.toLowerCase() : destination;
        table.routes.set(shown.toLowerCase(), {
          destination: shown,
          destinationKind: kind,
          target: { kind: 'eni', eni: primary.routeTargetEni },
          origin: 'CreateRoute',
        });
      }
    }
  }
  // An unmanaged default route in every table, which the controller must never touch.
  const managed = new Set(options.config.pairs.flatMap((p) => p.destinations));
  if (!managed.has('0.0.0.0/0')) {
    const gateway = `igw-0${options.dice.hex('igw', 16)}`;
    for (const table of account.routeTables.values()) {
      table.routes.set('0.0.0.0/0', {
        destination: '0.0.0.0/0',
        destinationKind: 'ipv4',
        target: { kind: 'gateway', field: 'GatewayId', id: gateway },
        origin: 'CreateRoute',
      });
    }
  }
}
