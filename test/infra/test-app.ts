import { readFileSync } from 'node:fs';
import { App, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { VpnFailoverStack, type VpnFailoverStackProps } from '../../infra/stack.ts';
import { parseConfig } from '../../shared/config/load.ts';
import type { Config, ConfigInput } from '../../shared/config/schema.ts';

/** Helpers shared by the infra tests (not a test file itself). */

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};

/** CDK context that skips asset bundling: for tests that do not look inside the Lambda bundle. */
export const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] } as const;

/**
 * An App with cdk.json's context (feature flags), because `new App()` ignores cdk.json and tests would otherwise
 * synthesise a different template than `cdk synth` (`new App()` reads no cdk.json).
 */
export function testApp(context: Record<string, unknown> = {}): App {
  return new App({ context: { ...cdkJson.context, ...context } });
}

/** The example configuration's single pair, as a user would write it. */
export const EXAMPLE_PAIR = {
  name: 'branch-a',
  primary: { instanceId: 'i-0123456789abcdef0' },
  standby: { instanceId: 'i-0fedcba9876543210' },
  routeTables: ['rtb-0a1b2c3d4e5f60718', 'rtb-0f1e2d3c4b5a69788'],
  destinations: ['10.50.0.0/16', '192.168.10.0/24'],
  probe: { kind: 'strongswan', minSas: 1 },
  tunnel: {
    namespace: 'VpnFailover',
    metricName: 'TunnelUp',
    statistic: 'Minimum',
    period: 60,
    threshold: 1,
  },
} as const satisfies ConfigInput['pairs'][number];

/**
 * `count` pairs shaped like EXAMPLE_PAIR (probe, tunnel) with distinct members and `routeTables` distinct route
 * tables each: the shape whose limits docs/operations.md#limits states.
 */
export function manyPairs(count: number, routeTables = 1): ConfigInput['pairs'] {
  return Array.from({ length: count }, (_, i) => ({
    ...EXAMPLE_PAIR,
    name: `pair-${i}`,
    primary: { instanceId: `i-${(2 * i).toString(16).padStart(17, '0')}` },
    standby: { instanceId: `i-${(2 * i + 1).toString(16).padStart(17, '0')}` },
    routeTables: Array.from(
      { length: routeTables },
      (_, j) => `rtb-${(i * routeTables + j).toString(16).padStart(17, '0')}`,
    ),
  }));
}

/**
 * The most pairs of the manyPairs shape (one route table each) that one stack holds: beyond it the resize step
 * role's policies exceed IAM's quotas (iam-limits.test.ts proves both sides).
 */
export const PAIRS_PER_STACK = 162;

/** A validated configuration from an input document. */
export const configOf = (input: ConfigInput): Config => parseConfig(input);

/** One synthesized deployment and its template. */
export interface Synthesized {
  readonly app: App;
  readonly stack: VpnFailoverStack;
  readonly template: Template;
}

/** Synthesize a VpnFailoverStack (bundling skipped unless `bundle` is true). */
export function synthStack(
  config: Config,
  controller: VpnFailoverStackProps['controller'] = {},
  options: { bundle?: boolean; stackName?: string } = {},
): Synthesized {
  const app = testApp(options.bundle ? {} : SKIP_BUNDLING);
  const stack = new VpnFailoverStack(app, options.stackName ?? 'VpnFailover', { config, controller });
  return { app, stack, template: Template.fromStack(stack) };
}

let mostPairs: Synthesized | undefined;
/**
 * The stack of the most pairs one stack holds (PAIRS_PER_STACK of manyPairs), synthesized once per worker: the
 * scale and IAM-quota tests read it and none changes it.
 */
export function synthMostPairs(): Synthesized {
  mostPairs ??= synthStack(configOf({ pairs: manyPairs(PAIRS_PER_STACK) }));
  return mostPairs;
}

/** An IAM policy statement as it appears in the template. */
export interface TemplateStatement {
  readonly policy: string;
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

/**
 * Every identity-policy statement in the template: AWS::IAM::Policy and AWS::IAM::ManagedPolicy documents and
 * inline role policies.
 */
export function policyStatements(template: Template): TemplateStatement[] {
  const statements: TemplateStatement[] = [];
  const add = (policy: string, document: { Statement: Omit<TemplateStatement, 'policy'>[] }) => {
    for (const statement of document.Statement) statements.push({ policy, ...statement });
  };
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const [id, resource] of Object.entries(template.findResources(type))) {
      add(id, resource.Properties.PolicyDocument);
    }
  }
  for (const [id, resource] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    for (const inline of resource.Properties.Policies ?? [])
      add(`${id}/${inline.PolicyName}`, inline.PolicyDocument);
  }
  return statements;
}

/** A statement's actions as an array. */
export const actionsOf = (statement: TemplateStatement): string[] =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

/** A statement's resources as an array, resolved to readable strings (`${AWS::Region}`, `${Logical.Arn}`). */
export function resourcesOf(statement: TemplateStatement): string[] {
  const list = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
  return list.map(readable);
}

/** Render an intrinsic (Ref, GetAtt, Join) as a readable string, e.g. `arn:${AWS::Partition}:ec2:…`. */
export function readable(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    if ('Ref' in object) return `\${${String(object.Ref)}}`;
    if ('Fn::GetAtt' in object) return `\${${(object['Fn::GetAtt'] as string[]).join('.')}}`;
    if ('Fn::Join' in object) {
      const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
      return parts.map(readable).join(separator);
    }
  }
  return JSON.stringify(value);
}

/** The logical id of a construct's CloudFormation resource. */
export const logicalIdOf = (stack: Stack, resource: { node: { defaultChild?: unknown } }): string =>
  stack.resolve((resource.node.defaultChild as { logicalId: string }).logicalId);
