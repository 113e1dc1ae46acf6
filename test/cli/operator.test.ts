import { describe, expect, it } from 'vitest';
import { clientsFor, DEFAULT_STACK, stackNameOf } from '../../cli/operator.ts';
import { createOperatorClients, type OperatorClients } from '../../shared/aws/clients.ts';

/** Which account, Region and stack the operator commands work against. */

describe('the account and stack an operator command works against', () => {
  it('--profile and --region reach every client, the CLI’s own and the product’s', async () => {
    const asked: unknown[] = [];
    const clients = clientsFor(
      { profile: 'oncall', region: 'eu-central-1' },
      {
        clients: (options) => {
          asked.push(options);
          return createOperatorClients(options);
        },
      },
    );

    expect(asked).toEqual([{ profile: 'oncall', region: 'eu-central-1' }]);
    for (const name of ['cloudformation', 'lambda', 'sts', 'ec2', 'ssm', 'cloudwatch', 'sfn'] as const) {
      const client = clients[name] as OperatorClients[typeof name];
      expect(await client.config.region()).toBe('eu-central-1');
      expect((client.config as { profile?: string }).profile).toBe('oncall');
    }
    expect(await clients.dynamo.config.region()).toBe('eu-central-1');
  });

  it('without them, leaves both to the SDK’s default chain (nothing passed)', () => {
    const asked: unknown[] = [];

    clientsFor(
      {},
      {
        clients: (options) => {
          asked.push(options);
          return createOperatorClients(options);
        },
      },
    );

    expect(asked).toEqual([{}]);
  });

  it('--stack, else VPN_FAILOVER_STACK, else the CDK app’s default stack name', () => {
    expect(stackNameOf({ stack: 'Prod' }, { VPN_FAILOVER_STACK: 'Staging' })).toBe('Prod');
    expect(stackNameOf({}, { VPN_FAILOVER_STACK: 'Staging' })).toBe('Staging');
    expect(stackNameOf({}, {})).toBe(DEFAULT_STACK);
  });
});
