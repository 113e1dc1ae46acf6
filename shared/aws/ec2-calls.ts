import { type EC2Client, type Instance, paginateDescribeInstances } from '@aws-sdk/client-ec2';
import type { InstanceState } from '../domain/types.ts';
import { awsErrorName, describeAwsError, toControllerError } from './errors.ts';

/**
 * How the EC2 adapters (./ec2.ts for failover, ./ec2-resize.ts for the resize workflow) call EC2: ids in chunks
 * of at most 100, reads that drop ids EC2 does not know instead of failing their neighbours, writes that throw
 * typed errors.
 */

/** InstanceIds, RouteTableIds and InstanceTypes take at most 100 ids a call (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceStatus.html). */
export const IDS_PER_CALL = 100;

const INSTANCE_STATES: ReadonlySet<string> = new Set<InstanceState>([
  'pending',
  'running',
  'stopping',
  'stopped',
  'shutting-down',
  'terminated',
]);

/** The domain's InstanceState, or undefined for a name EC2 may add later. */
export const instanceState = (name: string | undefined): InstanceState | undefined =>
  name !== undefined && INSTANCE_STATES.has(name) ? (name as InstanceState) : undefined;

/** The ids without repeats, in first-seen order. */
export const unique = (ids: readonly string[]): string[] => [...new Set(ids)];

/** The outcome of reading one chunk of ids. */
export interface ChunkRead<T> {
  readonly result?: T;
  /** ids EC2 said do not exist */
  readonly missing: readonly string[];
  /** ids still unread when the chunk failed */
  readonly unread: readonly string[];
  readonly error?: string;
}

/**
 * Read one chunk; when EC2 answers `notFoundCode` naming some of the ids ("The instance IDs 'i-1, i-2' do not
 * exist"), read the rest again without them, so one stale id does not make its neighbours unknown too.
 */
export async function readDroppingMissing<T>(
  ids: readonly string[],
  notFoundCode: string,
  read: (ids: string[]) => Promise<T>,
): Promise<ChunkRead<T>> {
  let remaining = [...ids];
  const missing: string[] = [];
  while (remaining.length > 0) {
    try {
      return { result: await read(remaining), missing, unread: [] };
    } catch (err) {
      const named = awsErrorName(err) === notFoundCode ? idsNamedIn(err, remaining) : [];
      if (named.length === 0) return { missing, unread: remaining, error: describeAwsError(err) };
      missing.push(...named);
      remaining = remaining.filter((id) => !named.includes(id));
    }
  }
  return { missing, unread: [] };
}

/** The ids among `candidates` that an error message names. */
function idsNamedIn(err: unknown, candidates: readonly string[]): string[] {
  const message = err instanceof Error ? err.message : String(err);
  const tokens = new Set(message.split(/[^A-Za-z0-9-]+/));
  return candidates.filter((id) => tokens.has(id));
}

/** DescribeInstances for at most 100 ids, every page; MaxResults is not allowed together with InstanceIds. */
export async function readInstances(ec2: EC2Client, ids: readonly string[]): Promise<Instance[]> {
  const instances: Instance[] = [];
  for await (const page of paginateDescribeInstances({ client: ec2 }, { InstanceIds: [...ids] })) {
    for (const reservation of page.Reservations ?? []) instances.push(...(reservation.Instances ?? []));
  }
  return instances;
}
/** Run one AWS call, turning its failure into a typed error that names the action. */
export async function send<T>(call: () => Promise<T>, action: string): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toControllerError(err, action);
  }
}
