import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { readMemberAddresses } from '../../shared/aws/addresses.ts';
import { NO_ADDRESS } from '../../shared/domain/types.ts';

const ec2Mock = mockClient(EC2Client);
const ec2 = new EC2Client({ maxAttempts: 1 });

beforeEach(() => {
  ec2Mock.reset();
});

describe('readMemberAddresses', () => {
  it("returns the private IPv4 address of each member's route-target ENI, not of its other ENIs", async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: 'i-0123456789abcdef0',
              NetworkInterfaces: [
                { NetworkInterfaceId: 'eni-0000000000000000a', PrivateIpAddress: '10.0.9.9' },
                { NetworkInterfaceId: 'eni-0a1b2c3d4e5f60001', PrivateIpAddress: '10.0.1.10' },
              ],
            },
            {
              InstanceId: 'i-0fedcba9876543210',
              NetworkInterfaces: [
                {
                  NetworkInterfaceId: 'eni-0f1e2d3c4b5a60002',
                  Ipv6Addresses: [{ Ipv6Address: '2001:db8::1' }],
                },
              ],
            },
          ],
        },
      ],
    });

    // Act
    const result = await readMemberAddresses(ec2, [
      { instanceId: 'i-0123456789abcdef0', networkInterfaceId: 'eni-0a1b2c3d4e5f60001' },
      { instanceId: 'i-0fedcba9876543210', networkInterfaceId: 'eni-0f1e2d3c4b5a60002' },
    ]);

    // Assess: an ENI without IPv4 is remembered as having none, so it is not read again
    expect(result.errors).toEqual([]);
    expect(result.values).toEqual(
      new Map([
        ['i-0123456789abcdef0', '10.0.1.10'],
        ['i-0fedcba9876543210', NO_ADDRESS],
      ]),
    );
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      InstanceIds: ['i-0123456789abcdef0', 'i-0fedcba9876543210'],
    });
  });

  it('never throws: a failed call leaves its members out with an error, to be read again next time', async () => {
    ec2Mock
      .on(DescribeInstancesCommand)
      .rejects(
        Object.assign(new Error('Request limit exceeded.'), { name: 'RequestLimitExceeded', $metadata: {} }),
      );
    const result = await readMemberAddresses(ec2, [
      { instanceId: 'i-0123456789abcdef0', networkInterfaceId: 'eni-0a1b2c3d4e5f60001' },
    ]);
    expect(result.values.size).toBe(0);
    expect(result.errors).toEqual([
      'DescribeInstances i-0123456789abcdef0: RequestLimitExceeded: Request limit exceeded.',
    ]);
  });
});
