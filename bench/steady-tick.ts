import { createClients } from '../shared/aws/clients.ts';
import { runController } from '../shared/controller/run.ts';
import { startLocalDynamo } from '../sim/local-dynamo.ts';
import { createStateTable } from '../sim/state-table.ts';
import { fleetConfig, mockFleet, steppingClock } from '../test/support/mock-fleet.ts';

/**
 * AWS calls and wall time of one steady tick (every pair healthy and converged, state already stored), with
 * EC2, SSM and CloudWatch answered by aws-sdk-client-mock and DynamoDB by a local dynalite. The calls are
 * what the controller asks; wall time here excludes AWS latency (mocked), so it is the controller's own cost.
 */
export async function benchSteadyTick(sizes: readonly number[] = [1, 10, 100, 200, 500]) {
  const server = await startLocalDynamo();
  const rows: string[] = [];
  try {
    for (const size of sizes) {
      const tableName = `bench-${size}`;
      const admin = createClients({ dynamoEndpoint: server.endpoint });
      await createStateTable(admin.dynamo, tableName);
      admin.dynamo.destroy();
      const fleet = mockFleet(fleetConfig(size), {
        dynamoEndpoint: server.endpoint,
        tableName,
        clock: steppingClock(),
      });
      await runController(fleet.deps, { kind: 'schedule' });
      await runController(fleet.deps, { kind: 'schedule' });
      fleet.reset();
      const started = performance.now();
      await runController(fleet.deps, { kind: 'schedule' });
      const ms = performance.now() - started;
      const c = fleet.calls();
      rows.push(
        `${String(size).padStart(5)} | ${String(c.total).padStart(5)} | ${String(c.ec2).padStart(3)} | ${String(c.ssm).padStart(3)} | ${String(c.cloudwatch).padStart(2)} | ${String(c.dynamodb).padStart(3)} | ${String(fleet.writes()).padStart(6)} | ${ms.toFixed(0).padStart(6)}`,
      );
      fleet.restore();
    }
  } finally {
    await server.close();
  }
  return [
    'Steady tick (all pairs healthy and converged), AWS calls per tick:',
    'pairs | calls | ec2 | ssm | cw | ddb | writes | wall ms',
    ...rows,
  ].join('\n');
}
