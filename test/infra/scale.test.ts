import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { STACK_RESOURCE_LIMIT } from '../../infra/controller.ts';
import { InputError } from '../../shared/errors.ts';
import { configOf, EXAMPLE_PAIR, manyPairs, readable, synthMostPairs, synthStack } from './test-app.ts';

describe('a deployment of the most pairs one stack holds', () => {
  const { template, stack } = synthMostPairs();
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

it("the schema's 500 pairs are refused at synth, before anything deploys, with the pairs one stack holds", () => {
  let thrown: unknown;
  try {
    synthStack(configOf({ pairs: manyPairs(500) }));
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(InputError);
  const messages = (thrown as InputError).problems.map((p) => `${p.path}: ${p.message}`);
  expect(messages.length).toBeGreaterThan(0);
  for (const message of messages) {
    expect(message).toMatch(
      /^config\.pairs: (with 500 pairs the IAM policies of role .*|the stack would hold \d+ resources, above CloudFormation's limit of 500; split the pairs over several configurations and stacks) of at most \d+ pairs each( \(the member agent adds an association per pair\))?$/,
    );
  }
});
