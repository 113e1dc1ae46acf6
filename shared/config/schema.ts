import * as z from 'zod';
import { parseDurationSeconds } from '../duration.ts';
import { TUNNEL_NAMESPACE } from '../telemetry-names.ts';

/**
 * The configuration file (docs/configuration.md). One file drives cdk synth/deploy, the Lambda, the CLI
 * and the simulator. Every field below the route list is optional; defaults are written beside each one.
 */

/** A value as a user wrote it, shortened for error messages. */
export const shown = (input: unknown): string => {
  const text = JSON.stringify(input);
  return text === undefined ? String(input) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

/** A string matching a pattern, with the contract's "expected X (got Y)" message. */
const pattern = (regex: RegExp, expected: string) =>
  z.string({ error: (iss) => `expected ${expected} (got ${shown(iss.input)})` }).regex(regex, {
    error: (iss) => `expected ${expected} (got ${shown(iss.input)})`,
  });

const INSTANCE_ID = /^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
const ENI_ID = /^eni-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
const ROUTE_TABLE_ID = /^rtb-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
const PREFIX_LIST_ID = /^pl-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
const ALLOCATION_ID = /^eipalloc-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;
const PAIR_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const SYSTEMD_UNIT = /^[A-Za-z0-9@._:-]{1,128}$/;
/** An IAM role name (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html, RoleName). */
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;

const DURATION_EXPECTED = 'expected a duration like "90s", "2m" or "1h"';

/** A duration as written: "90s", "2m", "1h" or a number of seconds (parse with `.transform(toSeconds)`). */
export const durationText = z.union([z.string(), z.number()], {
  error: (iss) => `${DURATION_EXPECTED} (got ${shown(iss.input)})`,
});

/** zod transform from a written duration to seconds, reporting text that is not one. */
export function toSeconds(value: string | number, ctx: z.RefinementCtx): number {
  const seconds = parseDurationSeconds(value);
  if (seconds === undefined) {
    ctx.addIssue({ code: 'custom', message: `${DURATION_EXPECTED} (got ${shown(value)})` });
    return z.NEVER;
  }
  return seconds;
}

/** An optional duration with a default; parsed to seconds. */
const duration = (fallback: string) => durationText.default(fallback).transform(toSeconds);

/** An IPv4 CIDR as EC2 stores it, host bits cleared: 100.68.0.18/18 becomes 100.68.0.0/18 (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReplaceRoute.html). */
export function canonicalIpv4(cidr: string): string | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!match) return undefined;
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  const network = address - (address % size);
  const parts = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
  return `${parts.join('.')}/${prefix}`;
}

/** The eight 16-bit groups and the prefix length of an IPv6 CIDR in any RFC 4291 hex spelling. */
function parseIpv6Cidr(cidr: string): { groups: number[]; prefix: number } | undefined {
  const match = /^([0-9a-fA-F:]+)\/(\d{1,3})$/.exec(cidr);
  if (!match) return undefined;
  const prefix = Number(match[2]);
  const halves = (match[1] as string).split('::');
  if (prefix > 128 || halves.length > 2) return undefined;
  const [head = [], tail] = halves.map((half) => (half === '' ? [] : half.split(':')));
  const written = [...head, ...(tail ?? [])];
  if (written.some((group) => !/^[0-9a-fA-F]{1,4}$/.test(group))) return undefined;
  // Without "::" all eight groups are written; "::" stands for at least one zero group.
  if (tail === undefined ? written.length !== 8 : written.length > 7) return undefined;
  const spelled = tail === undefined ? written : [...head, ...Array(8 - written.length).fill('0'), ...tail];
  return { groups: spelled.map((group) => Number.parseInt(group, 16)), prefix };
}

/** The groups with every bit beyond the prefix cleared. */
function ipv6Network({ groups, prefix }: { groups: number[]; prefix: number }): number[] {
  return groups.map((group, i) => {
    const bits = Math.min(16, Math.max(0, prefix - 16 * i));
    return group & ((0xffff << (16 - bits)) & 0xffff);
  });
}

/**
 * An IPv6 CIDR as EC2 shows it: host bits cleared, in RFC 5952 form (lower case, no leading zeros, the longest
 * run of two or more zero groups, the first on a tie, written "::"; https://www.rfc-editor.org/rfc/rfc5952#section-4).
 * Undefined when it is not an IPv6 CIDR written in hex groups (an embedded dotted IPv4 address is not accepted).
 */
export function canonicalIpv6(cidr: string): string | undefined {
  const parsed = parseIpv6Cidr(cidr);
  if (!parsed) return undefined;
  const groups = ipv6Network(parsed);
  let run = { start: 0, length: 1 };
  for (let start = 0; start < 8; start++) {
    let end = start;
    while (groups[end] === 0) end++;
    if (end - start > run.length) run = { start, length: end - start };
  }
  const hex = groups.map((group) => group.toString(16));
  const text =
    run.length > 1
      ? `${hex.slice(0, run.start).join(':')}::${hex.slice(run.start + run.length).join(':')}`
      : hex.join(':');
  return `${text}/${parsed.prefix}`;
}

/** An IPv4 network CIDR (host bits zero) written as EC2 writes it. */
const isIpv4Cidr = (value: string): boolean => canonicalIpv4(value) === value;

/** An IPv6 network CIDR (host bits zero) in any spelling; canonicalIpv6 gives the one EC2 shows. */
function isIpv6Cidr(value: string): boolean {
  const parsed = parseIpv6Cidr(value);
  return parsed !== undefined && ipv6Network(parsed).every((group, i) => group === parsed.groups[i]);
}

/** Classify a destination the way EC2 routes name it. */
export function destinationKind(value: string): 'ipv4' | 'ipv6' | 'prefix-list' | undefined {
  if (PREFIX_LIST_ID.test(value)) return 'prefix-list';
  if (isIpv4Cidr(value)) return 'ipv4';
  if (isIpv6Cidr(value)) return 'ipv6';
  return undefined;
}

/** Why a value is not a route destination, saying what to write instead where that can be told. */
function destinationProblem(value: string): string {
  const network = canonicalIpv4(value) ?? canonicalIpv6(value);
  if (network !== undefined) {
    return `expected a network CIDR, host bits zero (got ${shown(value)}, whose network is ${network})`;
  }
  const embedded = /^[0-9a-fA-F:]*:(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/\d{1,3}$/.exec(value);
  const octets = embedded?.slice(1, 5).map(Number) ?? [];
  if (octets.length === 4 && octets.every((octet) => octet <= 255)) {
    const [a = 0, b = 0, c = 0, d = 0] = octets;
    const hex = `${(a * 256 + b).toString(16)}:${(c * 256 + d).toString(16)}`;
    return `expected the embedded IPv4 address written as two hex groups, ${octets.join('.')} as ${hex} (got ${shown(value)})`;
  }
  return `expected an IPv4 or IPv6 network CIDR (host bits zero) or a pl-… prefix list (got ${shown(value)})`;
}

/** A route destination; an IPv6 CIDR becomes the spelling EC2 shows, so it matches the route EC2 reports. */
const destination = z
  .string({ error: (iss) => `expected a CIDR or pl-… prefix list (got ${shown(iss.input)})` })
  .transform((value, ctx) => {
    const kind = destinationKind(value);
    if (kind === undefined) {
      ctx.addIssue({ code: 'custom', message: destinationProblem(value) });
      return z.NEVER;
    }
    return kind === 'ipv6' ? (canonicalIpv6(value) as string) : value;
  });

const member = z.strictObject({
  instanceId: pattern(INSTANCE_ID, 'i-…'),
  /** The ENI routes point at. Default: the instance's primary ENI (device index 0). */
  networkInterfaceId: pattern(ENI_ID, 'eni-…').optional(),
});

const probe = z.discriminatedUnion(
  'kind',
  [
    /** A systemd unit is active (systemctl is-active). */
    z.strictObject({ kind: z.literal('systemd'), unit: pattern(SYSTEMD_UNIT, 'a systemd unit name') }),
    /** strongSwan (swanctl --list-sas) or Libreswan (ipsec trafficstatus) has at least minSas established SAs. */
    z.strictObject({ kind: z.literal('strongswan'), minSas: z.int().min(1).max(1000).default(1) }),
    z.strictObject({ kind: z.literal('libreswan'), minSas: z.int().min(1).max(1000).default(1) }),
    /** No daemon probe (the instance and tunnel signals only). */
    z.strictObject({ kind: z.literal('none') }),
  ],
  { error: (iss) => `expected kind systemd, strongswan, libreswan or none (got ${shown(iss.input)})` },
);

const dimensions = z.record(z.string().min(1).max(255), z.string().min(1).max(1024));

const tunnel = z.strictObject({
  /** Default: the product's own namespace, published by the shipped publisher script. */
  namespace: z.string().min(1).max(255).default(TUNNEL_NAMESPACE),
  metricName: z.string().min(1).max(255).default('TunnelUp'),
  /** Dimensions that select each member's series. Default: { InstanceId: <the member's id> }. */
  dimensions: z.strictObject({ primary: dimensions, standby: dimensions }).optional(),
  statistic: z.enum(['Minimum', 'Maximum', 'Average', 'Sum', 'SampleCount']).default('Minimum'),
  /** Seconds per datapoint: 10, 20, 30 or a multiple of 60 (high resolution below 60). */
  period: z
    .int()
    .default(60)
    .refine((p) => [1, 5, 10, 20, 30].includes(p) || (p >= 60 && p % 60 === 0), {
      error: (iss) => `expected 1, 5, 10, 20, 30 or a multiple of 60 (got ${shown(iss.input)})`,
    }),
  /** A datapoint breaches when it is below the threshold (1 = tunnel up). */
  threshold: z.number().default(1),
  comparison: z.enum(['lessThan', 'greaterThan']).default('lessThan'),
  /** Consecutive newest datapoints that must breach for the signal to read unhealthy. */
  datapointsToBreach: z.int().min(1).max(10).default(2),
});

const pair = z
  .strictObject({
    name: pattern(PAIR_NAME, 'a name of [a-z0-9-], at most 40 characters'),
    primary: member,
    standby: member,
    routeTables: z.array(pattern(ROUTE_TABLE_ID, 'rtb-…')).min(1).max(50),
    destinations: z.array(destination).min(1).max(100),
    /** Default: { kind: systemd, unit: strongswan }. */
    probe: probe.default({ kind: 'systemd', unit: 'strongswan' }),
    /** Default: no tunnel metric signal. */
    tunnel: tunnel.optional(),
    /** Consecutive unhealthy evaluations of a soft signal (daemon, tunnel) before failing over. Default 2. */
    unhealthyThreshold: z.int().min(1).max(100).default(2),
    /** After a failover, soft failures do not move traffic again for this long. Default 5m. */
    cooldown: duration('5m'),
    /** manual (default): traffic stays on the standby; automatic: back after failbackAfter healthy evaluations. */
    failback: z.enum(['manual', 'automatic']).default('manual'),
    /** Consecutive fully healthy evaluations of the primary before an automatic failback. Default 3. */
    failbackAfter: z.int().min(1).max(1000).default(3),
    /** Move this Elastic IP to the active member's route-target ENI on failover. Default: none. */
    elasticIp: z.strictObject({ allocationId: pattern(ALLOCATION_ID, 'eipalloc-…') }).optional(),
    /** Decide and report, change nothing, for this pair. Default: the top-level dryRun. */
    dryRun: z.boolean().optional(),
    /** The member agent on this pair's instances. Default: the top-level agent.enabled. */
    agent: z.strictObject({ enabled: z.boolean() }).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.primary.instanceId === p.standby.instanceId) {
      ctx.addIssue({
        code: 'custom',
        path: ['standby', 'instanceId'],
        message: `must differ from primary.instanceId (both are ${p.primary.instanceId})`,
      });
    }
    duplicates(p.routeTables).forEach((i) => {
      ctx.addIssue({
        code: 'custom',
        path: ['routeTables', i],
        message: `duplicate route table ${p.routeTables[i]}`,
      });
    });
    duplicates(p.destinations).forEach((i) => {
      ctx.addIssue({
        code: 'custom',
        path: ['destinations', i],
        message: `duplicate destination ${p.destinations[i]}`,
      });
    });
  });

/** The controller's defaults: economy mode (the 1-minute schedule alone), a 20 s probe deadline. */
export const DEFAULT_CONTROLLER = {
  schedule: 60,
  fastMode: { enabled: false, interval: 10 },
  probeTimeout: 20,
} as const;

const controller = z
  .strictObject({
    /** How often EventBridge Scheduler runs the controller. Minimum 1m (Scheduler's rate unit). Default 1m. */
    schedule: duration('1m').refine((s) => s >= 60 && s % 60 === 0, {
      error: 'expected a whole number of minutes, at least 1m (EventBridge Scheduler rate)',
    }),
    /** Fast mode: evaluations every `interval`, evenly, across invocations (each covers one schedule period). */
    fastMode: z
      .strictObject({
        enabled: z.boolean().default(false),
        interval: duration('10s').refine((s) => s >= 5, { error: 'expected at least 5s' }),
      })
      .default({ enabled: false, interval: 10 }),
    /** Deadline for the SSM daemon probe to answer in one evaluation. Default 20s. */
    probeTimeout: duration('20s').refine((s) => s >= 2 && s <= 60, { error: 'expected between 2s and 60s' }),
  })
  .default(DEFAULT_CONTROLLER);

const notifications = z
  .strictObject({
    /** An address subscribed to the alarm topic (it must confirm the subscription). */
    email: z.email().optional(),
  })
  .default({});

/**
 * The member agent (instance/vpn-failover-agent.sh): installed on every member of a pair with the agent enabled,
 * it reports its daemon's state the moment it changes. Pairs may opt out one by one (`pairs[].agent.enabled`).
 */
const agent = z
  .strictObject({
    /** Install the agent on the members and count its reports. Default true. */
    enabled: z.boolean().default(true),
    /**
     * Names of the members' instance roles to attach the agent's policy to. Default none: attach the policy
     * named by the stack output yourself.
     */
    instanceRoles: z.array(pattern(ROLE_NAME, 'an IAM role name')).max(10).default([]),
  })
  .default({ enabled: true, instanceRoles: [] });

export const configSchema = z
  .strictObject({
    pairs: z.array(pair).min(1).max(500),
    /** Decide and report, change nothing, for every pair. Default false. */
    dryRun: z.boolean().default(false),
    agent,
    controller,
    notifications,
  })
  .superRefine((config, ctx) => {
    const names = config.pairs.map((p) => p.name);
    duplicates(names).forEach((i) => {
      ctx.addIssue({
        code: 'custom',
        path: ['pairs', i, 'name'],
        message: `duplicate pair name ${names[i]}`,
      });
    });
    const owner = new Map<string, string>();
    config.pairs.forEach((p, i) => {
      for (const role of ['primary', 'standby'] as const) {
        const id = p[role].instanceId;
        const seen = owner.get(id);
        if (seen !== undefined && seen !== p.name) {
          ctx.addIssue({
            code: 'custom',
            path: ['pairs', i, role, 'instanceId'],
            message: `${id} is already a member of pair ${seen}`,
          });
        }
        owner.set(id, p.name);
      }
    });
    const routeOwner = new Map<string, string>();
    config.pairs.forEach((p, i) => {
      for (const rtb of p.routeTables) {
        for (const dest of p.destinations) {
          const key = `${rtb} ${dest}`;
          const seen = routeOwner.get(key);
          if (seen !== undefined && seen !== p.name) {
            ctx.addIssue({
              code: 'custom',
              path: ['pairs', i, 'destinations'],
              message: `route ${dest} in ${rtb} is already managed by pair ${seen}`,
            });
          }
          routeOwner.set(key, p.name);
        }
      }
    });
  });

function duplicates(values: readonly string[]): number[] {
  const seen = new Set<string>();
  const repeated: number[] = [];
  values.forEach((v, i) => {
    if (seen.has(v)) repeated.push(i);
    seen.add(v);
  });
  return repeated;
}

/**
 * Whether the member agent runs on this pair's instances: the pair's own setting, else the top level's; never for
 * a pair without a daemon probe (`probe.kind: none`), since the agent judges the daemon with the pair's probe.
 */
export const agentEnabled = (config: Config, pair: PairConfig): boolean =>
  pair.probe.kind !== 'none' && (pair.agent?.enabled ?? config.agent.enabled);

/** A validated configuration with every default filled in (durations in seconds). */
export type Config = z.output<typeof configSchema>;
export type PairConfig = Config['pairs'][number];
export type ProbeConfig = PairConfig['probe'];
export type TunnelConfig = NonNullable<PairConfig['tunnel']>;
/** The file as a user writes it. */
export type ConfigInput = z.input<typeof configSchema>;
