import { type ServiceFault, serviceFault } from './faults.ts';
import type { Bucket, Throttling } from './latency.ts';
import type { Dice } from './random.ts';

/**
 * Request-rate limits of the simulated account: EC2's per-action token buckets and resource-token buckets
 * (docs/aws-behaviour.md#ec2-request-throttling), per-action buckets for SSM and CloudWatch, and the scenario's
 * `api-throttling` faults, which throttle a share of calls for a while. A throttled call fails with the service's
 * throttling code, which the SDK classifies as throttling and retries with backoff
 * (docs/aws-behaviour.md#sdk-retries).
 */

/** An `api-throttling` fault in force. */
export interface ThrottlingFault {
  /** share of calls throttled, 0..1 */
  readonly rate: number;
  /** epoch ms from which it is in force */
  readonly from: number;
  /** epoch ms at which it ends */
  readonly until: number;
  /** ids of the targeted member (instance and ENIs); undefined means every call (`*`) */
  readonly ids?: readonly string[];
}

/** The throttling error each simulated service answers with. */
const THROTTLE_ERRORS: Readonly<Record<string, { code: string; message: string; status: number }>> = {
  EC2: { code: 'RequestLimitExceeded', message: 'Request limit exceeded.', status: 503 },
  SSM: { code: 'ThrottlingException', message: 'Rate exceeded', status: 400 },
  CloudWatch: { code: 'Throttling', message: 'Rate exceeded', status: 400 },
};

/**
 * DescribeInstances and friends use the smaller bucket when called without filters or pagination
 * (docs/aws-behaviour.md#ec2-request-throttling). The simulator counts ids as a filter (the docs do not say;
 * assumption).
 */
const UNFILTERED_DESCRIBES = new Set([
  'DescribeInstances',
  'DescribeInstanceStatus',
  'DescribeNetworkInterfaces',
  'DescribeSecurityGroups',
  'DescribeSnapshots',
  'DescribeSpotInstanceRequests',
  'DescribeVolumes',
]);

const NON_MUTATING = /^(Describe|List|Get|Search)/;

interface Level {
  tokens: number;
  at: number;
}

/** Token buckets and throttling faults for one simulated account. */
export class Throttle {
  readonly #limits: Throttling;
  readonly #dice: Dice;
  readonly #levels = new Map<string, Level>();
  readonly #faults: ThrottlingFault[] = [];

  constructor(limits: Throttling, dice: Dice) {
    this.#limits = limits;
    this.#dice = dice;
  }

  /** Add an `api-throttling` fault. */
  addFault(fault: ThrottlingFault): void {
    this.#faults.push(fault);
  }

  /**
   * Decide whether one call is throttled at `now`; takes its tokens when not. Returns the service's throttling
   * error, or undefined to let the call through.
   */
  check(service: string, command: string, input: unknown, now: number): ServiceFault | undefined {
    const error = THROTTLE_ERRORS[service] ?? {
      code: 'ThrottlingException',
      message: 'Rate exceeded',
      status: 400,
    };
    const text = JSON.stringify(input) ?? '';
    for (const fault of this.#faults) {
      if (now < fault.from || now >= fault.until) continue;
      if (fault.ids !== undefined && !fault.ids.some((id) => text.includes(id))) continue;
      if (this.#dice.chance(`throttle fault ${service} ${command}`, fault.rate)) {
        return serviceFault(error.code, error.message, error.status);
      }
    }
    const buckets = this.#bucketsFor(service, command, input);
    if (buckets.some(({ key, bucket, cost }) => this.#level(key, bucket, now).tokens < cost)) {
      return serviceFault(error.code, error.message, error.status);
    }
    for (const { key, bucket, cost } of buckets) this.#level(key, bucket, now).tokens -= cost;
    return undefined;
  }

  #bucketsFor(
    service: string,
    command: string,
    input: unknown,
  ): { key: string; bucket: Bucket; cost: number }[] {
    const t = this.#limits;
    if (service === 'SSM') return [{ key: `SSM ${command}`, bucket: t.ssm, cost: 1 }];
    if (service === 'CloudWatch') return [{ key: `CloudWatch ${command}`, bucket: t.cloudwatch, cost: 1 }];
    if (service !== 'EC2') return [];
    const fields = (input ?? {}) as Record<string, unknown>;
    const request = (): Bucket => {
      const specific = t.ec2Specific[command];
      if (specific) return specific;
      if (!NON_MUTATING.test(command)) return t.ec2Mutating;
      const unfiltered =
        UNFILTERED_DESCRIBES.has(command) &&
        fields.Filters === undefined &&
        fields.MaxResults === undefined &&
        fields.InstanceIds === undefined;
      return unfiltered ? t.ec2UnfilteredDescribe : t.ec2NonMutating;
    };
    const buckets = [{ key: `EC2 ${command}`, bucket: request(), cost: 1 }];
    const resource = t.ec2ResourceTokens[command];
    if (resource) {
      const ids = Array.isArray(fields.InstanceIds) ? fields.InstanceIds.length : 1;
      buckets.push({ key: `EC2 ${command} resources`, bucket: resource, cost: ids });
    }
    return buckets;
  }

  #level(key: string, bucket: Bucket, now: number): Level {
    const level = this.#levels.get(key) ?? { tokens: bucket.capacity, at: now };
    level.tokens = Math.min(
      bucket.capacity,
      level.tokens + ((now - level.at) / 1000) * bucket.refillPerSecond,
    );
    level.at = now;
    this.#levels.set(key, level);
    return level;
  }
}
