import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { STACK_RESOURCE_LIMIT } from '../../infra/controller.ts';
import { configOf, EXAMPLE_PAIR, readable, synthStack } from './test-app.ts';

/** The configuration schema's largest deployment: 500 pairs, every member and route table distinct. */
const pairs = Array.from({ length: 500 }, (_, i) => ({
  ...EXAMPLE_PAIR,
  name: `pair-${i}`,
  primary: { instanceId: `i-${(2 * i).toString(16).padStart(17, '0')}` },
  standby: { instanceId: `i-${(2 * i + 1).toString(16).padStart(17, '0')}` },
  routeTables: [`rtb-${i.toString(16).padStart(17, '0')}`],
}));

describe('a deployment of 500 pairs', () => {
  const { template, stack } = synthStack(configOf({ pairs }));
  const resources = template.toJSON().Resources as Record<string, { Type: string }>;

  it("synthesizes into one stack under CloudFormation's 500-resource limit", () => {
    expect(Object.keys(resources).length).toBeLessThan(STACK_RESOURCE_LIMIT);
  });

  it('has the same alarms as a deployment of one pair: per alarm kind, not per pair', () => {
    const one = synthStack(configOf({ pairs: [EXAMPLE_PAIR] })).template;
    expect(Object.keys(template.findResources('AWS::CloudWatch::Alarm')).length).toBe(
      Object.keys(one.findResources('AWS::CloudWatch::Alarm')).length,
    );
  });

  it("keeps the dashboard within CloudWatch's 500 widgets", () => {
    const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0];
    const body = JSON.parse(readable(dashboard?.Properties.DashboardBody)) as { widgets: unknown[] };
    expect(body.widgets.length).toBeLessThanOrEqual(500);
  });

  it("fits CloudFormation's 1 MB template limit", () => {
    expect(JSON.stringify(template.toJSON()).length).toBeLessThan(1_000_000);
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('Template size exceeds limit'));
  });
});
