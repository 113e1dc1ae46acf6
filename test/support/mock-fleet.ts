import { CloudWatchClient, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import {
  CreateRouteCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  DescribeRouteTablesCommand,
  EC2Client,
  ReplaceRouteCommand,
} from '@aws-sdk/client-ec2';
import { ListCommandInvocationsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { createClients } from '../../shared/aws/clients.ts';
import type { Clock } from '../../shared/clock.ts';
import { parseConfig } from '../../shared/config/load.ts';
import type { Config } from '../../shared/config/schema.ts';
import type { ControllerDeps } from '../../shared/controller/types.ts';
import { silentLogger } from '../../shared/logger.ts';

/**
 * A fleet of pairs answered by aws-sdk-client-mock (EC2, SSM, CloudWatch): all healthy and converged on the
 * primaries at first; tests change instance states, probe outcomes and routes through `world`. Route writes
 * land in `world.routes`. DynamoDB is the real local one (dynalite), counted by a middleware.
 */
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
export const instanceId = (n: number) => `i-${hex(n, 17)}`;
export const eniId = (n: number) => `eni-${hex(n, 17)}`;
export const tableId = (n: number) => `rtb-${hex(n, 17)}`;

/** Two route tables and two destinations per pair; daemon probe and tunnel metric on. */
export function fleetConfig(pairs: number): Config {
  return parseConfig({
    pairs: Array.from({ length: pairs }, (_, i) => ({
      name: `pair-${i}`,
      primary: { instanceId: instanceId(2 * i + 1) },
      standby: { instanceId: instanceId(2 * i + 2) },
      routeTables: [tableId(2 * i + 1), tableId(2 * i + 2)],
      destinations: [`10.${Math.floor(i / 250)}.${i % 250}.0/24`, `172.16.${i % 250}.0/24`],
      probe: { kind: 'strongswan', minSas: 1 },
      tunnel: {},
    })),
  });
}

const number = (id: string) => Number.parseInt(id.split('-')[1] as string, 16);

/** The mutable state behind the mocks. */
export interface FleetWorld {
  /** route table → destination → target ENI */
  readonly routes: Map<string, Map<string, string>>;
  /** instance id → state name (default running) */
  readonly states: Map<string, string>;
  /** instance id → daemon probe exit code (default 0) */
  readonly probeExit: Map<string, number>;
  /** the Parameters of every SendCommand so far, in order */
  readonly probeParameters: Record<string, string[]>[];
  /** route writes to fail (with InternalError) after this many succeeded; undefined: never */
  failRouteWritesAfter?: number;
}

export interface MockFleet {
  readonly deps: ControllerDeps;
  readonly world: FleetWorld;
  /** AWS calls made so far, per service */
  calls(): { ec2: number; ssm: number; cloudwatch: number; dynamodb: number; total: number };
  /** mutating calls made so far (route writes, DynamoDB writes) */
  writes(): number;
  reset(): void;
  restore(): void;
}

export function mockFleet(
  config: Config,
  options: { dynamoEndpoint: string; tableName: string; clock: Clock },
): MockFleet {
  const ec2 = mockClient(EC2Client);
  const ssm = mockClient(SSMClient);
  const cloudwatch = mockClient(CloudWatchClient);
  const world: FleetWorld = {
    routes: new Map(
      config.pairs.flatMap((p) =>
        p.routeTables.map(
          (t) => [t, new Map(p.destinations.map((d) => [d, eniId(number(p.primary.instanceId))]))] as const,
        ),
      ),
    ),
    states: new Map(),
    probeExit: new Map(),
    probeParameters: [],
  };
  const commands = new Map<string, string[]>();
  let routeWrites = 0;
  let dynamoWrites = 0;
  const running = (id: string) => (world.states.get(id) ?? 'running') === 'running';

  ec2.on(DescribeInstanceStatusCommand).callsFake((input) => ({
    InstanceStatuses: (input.InstanceIds ?? []).map((id: string) => ({
      InstanceId: id,
      InstanceState: { Name: world.states.get(id) ?? 'running' },
      SystemStatus: { Status: running(id) ? 'ok' : 'not-applicable' },
      InstanceStatus: { Status: running(id) ? 'ok' : 'not-applicable' },
      AttachedEbsStatus: { Status: running(id) ? 'ok' : 'not-applicable' },
    })),
  }));
  const writeRoute = (input: {
    RouteTableId?: string;
    DestinationCidrBlock?: string;
    NetworkInterfaceId?: string;
  }) => {
    if (world.failRouteWritesAfter !== undefined && routeWrites >= world.failRouteWritesAfter) {
      throw Object.assign(new Error('We encountered an internal error.'), {
        name: 'InternalError',
        $metadata: {},
      });
    }
    routeWrites += 1;
    world.routes
      .get(input.RouteTableId ?? '')
      ?.set(input.DestinationCidrBlock ?? '', input.NetworkInterfaceId ?? '');
    return { Return: true };
  };
  ec2.on(ReplaceRouteCommand).callsFake(writeRoute);
  ec2.on(CreateRouteCommand).callsFake(writeRoute);
  ec2.on(DescribeInstancesCommand).callsFake((input) => ({
    Reservations: [
      {
        Instances: (input.InstanceIds ?? []).map((id: string) => ({
          InstanceId: id,
          State: { Name: 'running', Code: 16 },
          NetworkInterfaces: [
            { NetworkInterfaceId: eniId(number(id)), Attachment: { DeviceIndex: 0, NetworkCardIndex: 0 } },
          ],
        })),
      },
    ],
  }));
  ec2.on(DescribeRouteTablesCommand).callsFake((input) => ({
    RouteTables: (input.RouteTableIds ?? []).map((id: string) => ({
      RouteTableId: id,
      Routes: [
        {
          DestinationCidrBlock: '10.255.0.0/16',
          GatewayId: 'local',
          State: 'active',
          Origin: 'CreateRouteTable',
        },
        ...[...(world.routes.get(id) ?? new Map<string, string>())].map(([d, eni]) => ({
          DestinationCidrBlock: d,
          NetworkInterfaceId: eni,
          State: 'active',
          Origin: 'CreateRoute',
        })),
      ],
    })),
  }));
  ssm.on(SendCommandCommand).callsFake((input) => {
    const ids: string[] = input.InstanceIds ?? [];
    const offline = ids.filter((id) => !running(id));
    if (offline.length > 0) {
      throw Object.assign(new Error(`Instances [[${offline.join(', ')}]] not in a valid state for account`), {
        name: 'InvalidInstanceId',
        $metadata: {},
      });
    }
    const commandId = `cmd-${commands.size + 1}`;
    commands.set(commandId, ids);
    world.probeParameters.push(input.Parameters ?? {});
    return { Command: { CommandId: commandId, Status: 'Pending' } };
  });
  ssm.on(ListCommandInvocationsCommand).callsFake((input) => ({
    CommandInvocations: (commands.get(input.CommandId ?? '') ?? []).map((id) => ({
      CommandId: input.CommandId,
      InstanceId: id,
      Status: (world.probeExit.get(id) ?? 0) === 0 ? 'Success' : 'Failed',
      StatusDetails: (world.probeExit.get(id) ?? 0) === 0 ? 'Success' : 'Failed',
      CommandPlugins: [
        {
          Name: 'probe',
          Status: (world.probeExit.get(id) ?? 0) === 0 ? 'Success' : 'Failed',
          ResponseCode: world.probeExit.get(id) ?? 0,
          Output: (world.probeExit.get(id) ?? 0) === 0 ? '2 established SAs' : '0 established SAs',
        },
      ],
    })),
  }));
  cloudwatch.on(GetMetricDataCommand).callsFake((input) => ({
    MetricDataResults: (input.MetricDataQueries ?? []).map((q: MetricDataQuery) => ({
      Id: q.Id,
      StatusCode: 'Complete',
      Timestamps: [new Date(options.clock.now() - 60_000), new Date(options.clock.now() - 120_000)],
      Values: [1, 1],
    })),
  }));

  let dynamoCalls = 0;
  const clients = createClients({ dynamoEndpoint: options.dynamoEndpoint });
  clients.dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      dynamoCalls += 1;
      if (/^(Put|Update|Delete|BatchWrite)/.test(context.commandName ?? '')) dynamoWrites += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  const deps: ControllerDeps = {
    clients,
    config,
    tableName: options.tableName,
    probeDocument: 'vpn-failover-probe',
    clock: options.clock,
    log: silentLogger,
  };
  return {
    deps,
    world,
    writes: () => routeWrites + dynamoWrites,
    calls: () => {
      const counts = {
        ec2: ec2.calls().length,
        ssm: ssm.calls().length,
        cloudwatch: cloudwatch.calls().length,
        dynamodb: dynamoCalls,
      };
      return { ...counts, total: counts.ec2 + counts.ssm + counts.cloudwatch + counts.dynamodb };
    },
    reset: () => {
      ec2.resetHistory();
      ssm.resetHistory();
      cloudwatch.resetHistory();
      dynamoCalls = 0;
      dynamoWrites = 0;
      routeWrites = 0;
    },
    restore: () => {
      ec2.restore();
      ssm.restore();
      cloudwatch.restore();
      clients.dynamo.destroy();
    },
  };
}

/** A clock that advances on sleep, so probe polling takes no real time. */
export function steppingClock(start = Date.parse('2026-11-30T00:00:00Z')): Clock {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
}
