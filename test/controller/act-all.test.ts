import {
  AssociateAddressCommand,
  CreateRouteCommand,
  DescribeRouteTablesCommand,
  ReplaceRouteCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { createClients } from '../../shared/aws/clients.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { type ActResult, actAll, CONFIRM_DELAYS_MS, type MoveJob } from '../../shared/controller/act.ts';
import type { ControllerDeps } from '../../shared/controller/types.ts';
import type { RouteWrite } from '../../shared/domain/plan.ts';
import { silentLogger } from '../../shared/logger.ts';
import { eniId, instanceId, steppingClock, tableId } from '../support/mock-fleet.ts';

/**
 * actAll on its own: the route writes and Elastic IP moves of one run, against a small EC2 fake whose route
 * tables the writes change and the read-back reads.
 */

const ALLOCATION = 'eipalloc-00000000000000001';

const config = parseConfig({
  pairs: [0, 1].map((i) => ({
    name: `pair-${i}`,
    primary: { instanceId: instanceId(2 * i + 1) },
    standby: { instanceId: instanceId(2 * i + 2) },
    routeTables: [tableId(2 * i + 1), tableId(2 * i + 2)],
    destinations: [`10.${i}.0.0/24`],
    ...(i === 0 ? { elasticIp: { allocationId: ALLOCATION } } : {}),
  })),
});

interface Ec2Fake {
  readonly deps: ControllerDeps;
  /** route table → destination → target ENI */
  readonly routes: Map<string, Map<string, string>>;
  /** every mutating call, in order: "ReplaceRoute rtb dest eni", "AssociateAddress alloc eni" */
  readonly calls: string[];
  /** the clock's time: epoch ms */
  readonly now: () => number;
}

/**
 * Every route of both pairs on its primary's ENI. `fail` answers a route write with an error instead; `stale`
 * routes keep reading back their old target however often they are written.
 */
function ec2Fake(
  options: { fail?: (table: string) => Error | undefined; stale?: ReadonlySet<string> } = {},
): Ec2Fake {
  const clients = createClients({ region: 'eu-west-1' });
  const ec2 = mockClient(clients.ec2);
  const routes = new Map(
    config.pairs.flatMap((pair) =>
      pair.routeTables.map((table) => [table, new Map(pair.destinations.map((d) => [d, eniId(1)]))] as const),
    ),
  );
  const calls: string[] = [];
  const read = new Map(routes);
  const write =
    (name: string) =>
    (input: { RouteTableId?: string; DestinationCidrBlock?: string; NetworkInterfaceId?: string }) => {
      const table = input.RouteTableId ?? '';
      const error = options.fail?.(table);
      if (error) throw error;
      calls.push(`${name} ${table} ${input.DestinationCidrBlock} ${input.NetworkInterfaceId}`);
      if (!options.stale?.has(table))
        routes.get(table)?.set(input.DestinationCidrBlock ?? '', input.NetworkInterfaceId ?? '');
      return { Return: true };
    };
  ec2.on(ReplaceRouteCommand).callsFake(write('ReplaceRoute'));
  ec2.on(CreateRouteCommand).callsFake(write('CreateRoute'));
  ec2.on(AssociateAddressCommand).callsFake((input) => {
    calls.push(`AssociateAddress ${input.AllocationId} ${input.NetworkInterfaceId}`);
    return { AssociationId: 'eipassoc-1' };
  });
  ec2.on(DescribeRouteTablesCommand).callsFake((input) => ({
    RouteTables: (input.RouteTableIds ?? []).map((id: string) => ({
      RouteTableId: id,
      Routes: [...(read.get(id)?.entries() ?? [])].map(([destination, eni]) => ({
        DestinationCidrBlock: destination,
        NetworkInterfaceId: eni,
        State: 'active',
      })),
    })),
  }));
  const clock = steppingClock();
  return {
    deps: {
      clients,
      config,
      tableName: 'state',
      probeDocument: 'probe',
      clock,
      log: silentLogger,
    },
    routes,
    calls,
    now: () => clock.now(),
  };
}

/** Pair `i` moves to its standby (ENI of instance 2i+2): every route of its tables, the Elastic IP if asked. */
function moveToStandby(i: number, options: { priority?: number; moveElasticIp?: boolean } = {}): MoveJob {
  const pair = config.pairs[i] as (typeof config.pairs)[number];
  const routes: RouteWrite[] = pair.routeTables.flatMap((routeTableId) =>
    pair.destinations.map((destination) => ({
      routeTableId,
      destination,
      action: 'replace' as const,
      networkInterfaceId: eniId(2 * i + 2),
    })),
  );
  return {
    pair,
    priority: options.priority ?? 0,
    plan: {
      kind: 'failover',
      trigger: 'hard-loss',
      from: 'primary',
      to: 'standby',
      reasons: ['primary stopped'],
      routes,
      targetEni: eniId(2 * i + 2),
      moveElasticIp: options.moveElasticIp ?? false,
    },
  };
}

const outcome = async (results: Map<string, Promise<ActResult>>, pair: string): Promise<ActResult> => {
  const result = results.get(pair);
  if (result === undefined) throw new Error(`no outcome for ${pair}`);
  return result;
};

const FAR = Number.POSITIVE_INFINITY;

describe('actAll: the writes of one run', () => {
  it("moves every route of the pair to the standby's ENI, then its Elastic IP, and reads each route back as written", async () => {
    const fake = ec2Fake();

    const result = await outcome(
      actAll(fake.deps, [moveToStandby(0, { moveElasticIp: true })], { stopAt: FAR }),
      'pair-0',
    );

    expect(result).toEqual({
      routesChanged: [
        { routeTableId: tableId(1), destination: '10.0.0.0/24', to: 'standby', action: 'replaced' },
        { routeTableId: tableId(2), destination: '10.0.0.0/24', to: 'standby', action: 'replaced' },
      ],
      elasticIpMoved: true,
      unconfirmed: [],
      failures: [],
    });
    expect(fake.calls.at(-1)).toBe(`AssociateAddress ${ALLOCATION} ${eniId(2)}`);
    expect(fake.routes.get(tableId(1))?.get('10.0.0.0/24')).toBe(eniId(2));
  });

  it('does not touch the Elastic IP when the plan does not move it, nor the routes of a pair with no move', async () => {
    const fake = ec2Fake();

    const result = await outcome(actAll(fake.deps, [moveToStandby(0)], { stopAt: FAR }), 'pair-0');

    expect(result.elasticIpMoved).toBe(false);
    expect(fake.calls.filter((call) => call.startsWith('AssociateAddress'))).toEqual([]);
    expect(fake.calls.every((call) => !call.includes(tableId(3)) && !call.includes(tableId(4)))).toBe(true);
    expect(fake.routes.get(tableId(3))?.get('10.1.0.0/24')).toBe(eniId(1));
  });

  it('writes the more urgent pair first, whatever order the moves come in', async () => {
    const fake = ec2Fake();

    const results = actAll(
      fake.deps,
      [moveToStandby(1, { priority: 2 }), moveToStandby(0, { priority: 1 })],
      { stopAt: FAR },
    );
    await Promise.all(results.values());

    expect(fake.calls.map((call) => call.split(' ')[1])).toEqual([
      tableId(1),
      tableId(2),
      tableId(3),
      tableId(4),
    ]);
  });

  it("reports a route EC2 refuses with the route and EC2's reason, and still writes the pair's other routes", async () => {
    const fake = ec2Fake({
      fail: (table) =>
        table === tableId(1)
          ? Object.assign(new Error('You are not authorized to perform this operation.'), {
              name: 'UnauthorizedOperation',
              $metadata: {},
            })
          : undefined,
    });

    const result = await outcome(actAll(fake.deps, [moveToStandby(0)], { stopAt: FAR }), 'pair-0');

    expect(result.failures).toEqual([
      expect.stringMatching(new RegExp(`^${tableId(1)} 10.0.0.0/24: .*not authorized`)),
    ]);
    expect(result.routesChanged.map((change) => change.routeTableId)).toEqual([tableId(2)]);
    expect(fake.routes.get(tableId(1))?.get('10.0.0.0/24')).toBe(eniId(1));
    expect(fake.routes.get(tableId(2))?.get('10.0.0.0/24')).toBe(eniId(2));
  });

  it('reports a write that still reads back its old target after every read-back as unconfirmed, for the next run to repair', async () => {
    const fake = ec2Fake({ stale: new Set([tableId(2)]) });
    const startedAt = fake.now();

    const result = await outcome(actAll(fake.deps, [moveToStandby(0)], { stopAt: FAR }), 'pair-0');

    expect(result.unconfirmed).toEqual([
      {
        routeTableId: tableId(2),
        destination: '10.0.0.0/24',
        action: 'replace',
        networkInterfaceId: eniId(2),
      },
    ]);
    expect(result.failures).toEqual([]);
    // It waited through every read-back pause before giving up.
    const pauses = CONFIRM_DELAYS_MS.reduce((sum, ms) => sum + ms, 0);
    expect(fake.now() - startedAt).toBeGreaterThanOrEqual(pauses);
  });

  it("starts no write after the invocation's deadline and reports each one it did not make", async () => {
    const fake = ec2Fake();

    const result = await outcome(
      actAll(fake.deps, [moveToStandby(0, { moveElasticIp: true })], { stopAt: fake.now() - 1 }),
      'pair-0',
    );

    expect(fake.calls).toEqual([]);
    expect(result.routesChanged).toEqual([]);
    expect(result.elasticIpMoved).toBe(false);
    expect(result.failures).toEqual([
      `${tableId(1)} 10.0.0.0/24: not written before the invocation's deadline`,
      `${tableId(2)} 10.0.0.0/24: not written before the invocation's deadline`,
      `Elastic IP ${ALLOCATION}: not written before the invocation's deadline`,
    ]);
  });

  it('answers at once for a move with nothing to write', async () => {
    const fake = ec2Fake();
    const job = moveToStandby(0);

    const result = await outcome(
      actAll(fake.deps, [{ ...job, plan: { ...job.plan, routes: [] } }], { stopAt: FAR }),
      'pair-0',
    );

    expect(result).toEqual({ routesChanged: [], elasticIpMoved: false, unconfirmed: [], failures: [] });
    expect(fake.calls).toEqual([]);
  });
});
