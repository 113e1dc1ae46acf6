import {
  CreateRouteCommand,
  DeleteRouteCommand,
  DescribeInstanceStatusCommand,
  DescribeRouteTablesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { beforeEach, describe, expect, it } from 'vitest';
import { handleEvent } from '../../functions/controller/handler.ts';
import { readElasticIps } from '../../shared/aws/ec2.ts';
import { StateStore } from '../../shared/aws/state-store.ts';
import {
  allOn,
  clients,
  context,
  ec2,
  elasticIpOn,
  freshAccount,
  handlerDeps,
  PAIR,
  pairConfig,
  routeTargets,
  SCHEDULE,
  sent,
  TABLE,
  world,
  writes,
} from './world.ts';

/**
 * The real controller Lambda handler against moto, an EC2/DynamoDB/SSM emulator written independently of this
 * project: the SDK builds real requests and parses real responses over HTTP. moto's gaps met here are stated
 * where a test works around them.
 */

beforeEach(freshAccount);

describe('controller handler against moto', () => {
  it('on a healthy pair plans nothing, and a steady schedule run writes no route and moves no address', async () => {
    const deps = handlerDeps();
    const first = await handleEvent(SCHEDULE, context, deps);
    sent.length = 0;

    const steady = await handleEvent(SCHEDULE, context, deps);

    expect(first.pairs[0]).toMatchObject({ pair: PAIR, plan: 'noop', active: 'primary' });
    expect(steady.pairs[0]).toMatchObject({ plan: 'noop', active: 'primary', routesChanged: [] });
    expect(writes()).toEqual([]);
    expect(sent.filter((name) => /^(Put|Update|Delete|BatchWrite)/.test(name))).toEqual([]);
    // The steady run still looked: the routes were read from EC2.
    expect(sent).toContain('DescribeRouteTablesCommand');
    expect(await routeTargets()).toEqual(allOn('primary'));
    expect(await elasticIpOn()).toBe('primary');
  });

  it('on the primary stopped, moves every managed route and the Elastic IP to the standby’s primary ENI and records it', async () => {
    const deps = handlerDeps();
    await handleEvent(SCHEDULE, context, deps);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [world.primary.instanceId] }));
    sent.length = 0;

    const summary = await handleEvent(SCHEDULE, context, deps);

    expect(writes().sort()).toEqual([
      'AssociateAddressCommand',
      'ReplaceRouteCommand',
      'ReplaceRouteCommand',
      'ReplaceRouteCommand',
      'ReplaceRouteCommand',
    ]);
    expect(summary.pairs[0]).toMatchObject({
      plan: 'failover',
      trigger: 'hard-loss',
      from: 'primary',
      to: 'standby',
      active: 'standby',
      elasticIpMoved: true,
    });
    expect(summary.pairs[0]?.routesChanged).toHaveLength(4);
    // Device index 0, never the standby's second ENI.
    expect(await routeTargets()).toEqual(allOn('standby'));
    expect(await elasticIpOn()).toBe('standby');
    const history = await new StateStore({ dynamo: clients.dynamo, tableName: TABLE }).listHistory(PAIR);
    expect(history.map((entry) => entry.record)).toContainEqual(
      expect.objectContaining({ plan: 'failover', from: 'primary', to: 'standby' }),
    );

    sent.length = 0;
    const after = await handleEvent(SCHEDULE, context, deps);
    expect(after.pairs[0]).toMatchObject({ plan: 'noop', active: 'standby' });
    expect(writes()).toEqual([]);
  });

  it('on the EC2 state-change event of the stopping primary, moves every managed route to the standby', async () => {
    const deps = handlerDeps();
    await handleEvent(SCHEDULE, context, deps);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [world.primary.instanceId] }));
    const event = {
      version: '0',
      source: 'aws.ec2',
      'detail-type': 'EC2 Instance State-change Notification',
      detail: { 'instance-id': world.primary.instanceId, state: 'stopping' },
    };

    const summary = await handleEvent(event, context, deps);

    expect(summary).toMatchObject({ trigger: 'instance-state-change' });
    expect(summary.pairs[0]).toMatchObject({ plan: 'failover', trigger: 'hard-loss', active: 'standby' });
    expect(await routeTargets()).toEqual(allOn('standby'));
  });

  it('on an operator failback once the primary runs again, puts the routes and the Elastic IP back on the primary', async () => {
    const deps = handlerDeps();
    await handleEvent(SCHEDULE, context, deps);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [world.primary.instanceId] }));
    await handleEvent(SCHEDULE, context, deps);
    await ec2.send(new StartInstancesCommand({ InstanceIds: [world.primary.instanceId] }));

    const summary = await handleEvent({ action: 'failover', pair: PAIR, to: 'primary' }, context, deps);

    expect(summary.pairs[0]).toMatchObject({
      plan: 'failback',
      trigger: 'manual',
      to: 'primary',
      active: 'primary',
    });
    expect(await routeTargets()).toEqual(allOn('primary'));
    expect(await elasticIpOn()).toBe('primary');
  });

  it('re-creates a managed route deleted behind its back, on the active member, and touches no other', async () => {
    const deps = handlerDeps();
    await handleEvent(SCHEDULE, context, deps);
    const [table] = world.routeTables;
    await ec2.send(new DeleteRouteCommand({ RouteTableId: table, DestinationCidrBlock: '10.50.0.0/16' }));
    sent.length = 0;

    const summary = await handleEvent(SCHEDULE, context, deps);

    expect(summary.pairs[0]?.routesChanged).toEqual([
      { routeTableId: table, destination: '10.50.0.0/16', to: 'primary', action: 'created' },
    ]);
    expect(writes()).toEqual(['CreateRouteCommand']);
    expect(await routeTargets()).toEqual(allOn('primary'));
  });
});

describe('what moto does not emulate', () => {
  it('keeps a route to a stopped instance’s ENI "active", where EC2 reports it "blackhole"', async () => {
    // The controller's hard-loss above is therefore seen through the instance state alone; blackhole detection
    // is covered by the project's own simulator only.
    await ec2.send(new StopInstancesCommand({ InstanceIds: [world.primary.instanceId] }));
    const { RouteTables = [] } = await ec2.send(
      new DescribeRouteTablesCommand({ RouteTableIds: [world.routeTables[0] as string] }),
    );
    const managed = (RouteTables[0]?.Routes ?? []).filter((r) => r.NetworkInterfaceId === world.primary.eni);
    expect(managed.map((r) => r.State)).toEqual(['active', 'active']);
  });

  it('lets CreateRoute overwrite an existing route, where EC2 answers RouteAlreadyExists', async () => {
    // So the controller's CreateRoute-then-ReplaceRoute fallback is never exercised against moto.
    const [table] = world.routeTables;
    await ec2.send(
      new CreateRouteCommand({
        RouteTableId: table,
        DestinationCidrBlock: '10.50.0.0/16',
        NetworkInterfaceId: world.standby.eni,
      }),
    );
    expect((await routeTargets())[`${table} 10.50.0.0/16`]).toBe('standby');
  });

  it('cannot answer ListCommandInvocations, so an SSM probe reads unknown and, alone, moves nothing', async () => {
    const deps = handlerDeps(pairConfig({ probe: { kind: 'systemd', unit: 'strongswan' } }));

    const summary = await handleEvent(SCHEDULE, context, deps);

    // SendCommand itself is accepted: the request is well formed.
    expect(sent).toContain('SendCommandCommand');
    expect(summary.pairs[0]).toMatchObject({ plan: 'noop', active: 'primary' });
    expect(summary.pairs[0]?.members?.primary.signals.daemon).toBe('unknown');
    expect(summary.pairs[0]?.members?.standby.signals.daemon).toBe('unknown');
    expect(writes()).toEqual([]);
  });

  it('names every requested allocation id in InvalidAllocationID.NotFound, so one unknown id hides the known ones', async () => {
    // EC2 names only the unknown ids; moto names the whole set, so the adapter, which drops the ids an error
    // names and reads the rest again, drops the known address too. The tests above configure known ids only.
    const unknown = 'eipalloc-0123456789abcdef0';

    const read = await readElasticIps(ec2, [world.allocationId, unknown]);

    expect(read.values.has(world.allocationId)).toBe(false);
    expect(read.errors).toEqual([
      `Elastic IP ${world.allocationId} does not exist`,
      `Elastic IP ${unknown} does not exist`,
    ]);
  });

  it('reports no scheduled events and no EBS status in DescribeInstanceStatus', async () => {
    // So a scheduled retirement or an impaired volume, reasons to move traffic ahead of time, cannot be
    // staged here; the project's own simulator covers them.
    const { InstanceStatuses = [] } = await ec2.send(
      new DescribeInstanceStatusCommand({
        InstanceIds: [world.primary.instanceId],
        IncludeAllInstances: true,
      }),
    );

    expect(InstanceStatuses[0]?.SystemStatus?.Status).toBe('ok');
    expect(InstanceStatuses[0]?.Events).toBeUndefined();
    expect(InstanceStatuses[0]?.AttachedEbsStatus).toBeUndefined();
  });
});
