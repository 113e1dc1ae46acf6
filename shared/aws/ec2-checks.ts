import {
  DescribeNetworkInterfacesCommand,
  type EC2Client,
  paginateDescribeSecurityGroups,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import { chunk } from '../concurrency.ts';
import { IDS_PER_CALL, readDroppingMissing, unique } from './ec2-calls.ts';
import { collector, type ReadResult } from './read-result.ts';

/**
 * The EC2 reads of the operator's checks (`vpn-failover doctor`): whether the members' interfaces can forward
 * traffic, and what their security groups let in. Like the failover reads, they never throw: an id EC2 does
 * not know, or a chunk that fails, is named in `errors` and the rest still read.
 */

/** What the operator's checks need to know about a network interface. */
export interface InterfaceDescription {
  /** true: EC2 drops traffic not addressed to the interface itself, so it cannot forward (route) traffic */
  readonly sourceDestCheck: boolean;
  /** the security groups attached to the interface */
  readonly groupIds: readonly string[];
}

/**
 * Source/destination check and security groups of network interfaces (DescribeNetworkInterfaces, 100 ids a
 * call). An interface EC2 does not know is named in `errors`, the others still read.
 */
export async function readInterfaces(
  ec2: EC2Client,
  eniIds: readonly string[],
): Promise<ReadResult<string, InterfaceDescription>> {
  const out = collector<string, InterfaceDescription>();
  await Promise.all(
    chunk(unique(eniIds), IDS_PER_CALL).map(async (ids) => {
      const read = await readDroppingMissing(ids, 'InvalidNetworkInterfaceID.NotFound', (remaining) =>
        ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: remaining })),
      );
      for (const id of read.missing) out.errors.push(`network interface ${id} does not exist`);
      if (read.error !== undefined) {
        out.errors.push(`DescribeNetworkInterfaces ${read.unread.join(', ')}: ${read.error}`);
        return;
      }
      for (const ni of read.result?.NetworkInterfaces ?? []) {
        if (ni.NetworkInterfaceId === undefined || !ids.includes(ni.NetworkInterfaceId)) continue;
        out.values.set(ni.NetworkInterfaceId, {
          // EC2 enables the check on every new interface (https://docs.aws.amazon.com/vpc/latest/userguide/VPC_NAT_Instance.html#EIP_Disable_SrcDestCheck).
          sourceDestCheck: ni.SourceDestCheck ?? true,
          groupIds: (ni.Groups ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : [])),
        });
      }
    }),
  );
  return out;
}

/** One inbound rule of a security group, as far as protocols and ports go. */
export interface IngressRule {
  /** "udp", "tcp", "icmp", "-1" (all traffic) or a protocol number such as "50" (ESP) */
  readonly protocol: string;
  /** absent for protocols without ports and for all traffic */
  readonly fromPort?: number;
  readonly toPort?: number;
}

/** The inbound rules of security groups (DescribeSecurityGroups, 100 ids a call, every page), by group id. */
export async function readIngressRules(
  ec2: EC2Client,
  groupIds: readonly string[],
): Promise<ReadResult<string, IngressRule[]>> {
  const out = collector<string, IngressRule[]>();
  await Promise.all(
    chunk(unique(groupIds), IDS_PER_CALL).map(async (ids) => {
      const read = await readDroppingMissing(ids, 'InvalidGroup.NotFound', async (remaining) => {
        const groups: SecurityGroup[] = [];
        for await (const page of paginateDescribeSecurityGroups({ client: ec2 }, { GroupIds: remaining })) {
          groups.push(...(page.SecurityGroups ?? []));
        }
        return groups;
      });
      for (const id of read.missing) out.errors.push(`security group ${id} does not exist`);
      if (read.error !== undefined) {
        out.errors.push(`DescribeSecurityGroups ${read.unread.join(', ')}: ${read.error}`);
        return;
      }
      for (const group of read.result ?? []) {
        if (group.GroupId === undefined) continue;
        out.values.set(
          group.GroupId,
          (group.IpPermissions ?? []).map((permission) => ({
            protocol: permission.IpProtocol ?? '-1',
            ...(permission.FromPort !== undefined ? { fromPort: permission.FromPort } : {}),
            ...(permission.ToPort !== undefined ? { toPort: permission.ToPort } : {}),
          })),
        );
      }
    }),
  );
  return out;
}
