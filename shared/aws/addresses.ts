import { type EC2Client, paginateDescribeInstances } from '@aws-sdk/client-ec2';
import { chunk } from '../concurrency.ts';
import { NO_ADDRESS } from '../domain/types.ts';
import { describeAwsError } from './errors.ts';
import { collector, type ReadResult } from './read-result.ts';

/**
 * Members' private IPv4 addresses, for the probe's peer check: each member pings its partner's address, a
 * witness of the partner's OS that does not go through the partner's SSM agent. Read with DescribeInstances
 * (which the controller may already call, and which lists every attached ENI with its primary private address,
 * https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceNetworkInterface.html). Never throws: a
 * failed call leaves its members out and names them in errors.
 */

/** Instance ids per DescribeInstances call, as the other EC2 reads batch them. */
const IDS_PER_CALL = 100;

/** A member whose address is wanted: the address of the ENI that routes point at. */
export interface AddressedMember {
  readonly instanceId: string;
  readonly networkInterfaceId: string;
}

/**
 * The primary private IPv4 address of each member's route-target ENI, keyed by instance id: NO_ADDRESS when that ENI
 * has none (an IPv6-only subnet) or is no longer attached, so that callers can remember there is nothing to read.
 */
export async function readMemberAddresses(
  ec2: EC2Client,
  members: readonly AddressedMember[],
): Promise<ReadResult<string, string>> {
  const out = collector<string, string>();
  const wanted = new Map(members.map((m) => [m.instanceId, m.networkInterfaceId]));
  await Promise.all(
    chunk([...wanted.keys()], IDS_PER_CALL).map(async (ids) => {
      try {
        const pages = paginateDescribeInstances({ client: ec2 }, { InstanceIds: ids });
        for await (const page of pages) {
          for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
            const id = instance.InstanceId;
            if (id === undefined || !wanted.has(id)) continue;
            const eni = (instance.NetworkInterfaces ?? []).find(
              (ni) => ni.NetworkInterfaceId === wanted.get(id),
            );
            // An ENI without a private IPv4 address (IPv6-only subnet) gets NO_ADDRESS, so it is not read again.
            out.values.set(id, eni?.PrivateIpAddress ?? NO_ADDRESS);
          }
        }
      } catch (err) {
        out.errors.push(`DescribeInstances ${ids.join(', ')}: ${describeAwsError(err)}`);
        return;
      }
      for (const id of ids) {
        if (!out.values.has(id)) out.errors.push(`DescribeInstances returned nothing for ${id}`);
      }
    }),
  );
  return out;
}
