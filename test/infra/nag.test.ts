import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { VpnFailoverStack } from '../../infra/stack.ts';
import { loadConfigFile } from '../../shared/config/file.ts';
import { SKIP_BUNDLING, testApp } from './test-app.ts';

/**
 * cdk-nag 3 runs as a CDK policy-validation plugin (Validations.of(app).addPlugins, added by buildApp): an
 * unacknowledged finding makes an in-process synth throw with the report, so a synth that returns is a clean
 * report. Acknowledgements are Validations.of(construct).acknowledge({ id, reason }) next to the code that
 * needs them.
 */

const everyOptionConfig = join(import.meta.dirname, 'fixtures', 'every-option.yaml');

function acknowledgements(root: IConstruct): { id: string; reason: unknown }[] {
  return root.node
    .findAll()
    .flatMap((node) =>
      node.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) =>
          Object.entries(entry.data as Record<string, unknown>).map(([id, reason]) => ({ id, reason })),
        ),
    );
}

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding for the example deployment', () => {
    const app = testApp({ ...SKIP_BUNDLING, config: 'examples/pairs.yaml' });
    buildApp(app);
    expect(() => app.synth()).not.toThrow();
  });

  it('reports no unacknowledged finding for a deployment using every option', () => {
    const app = testApp({
      ...SKIP_BUNDLING,
      config: everyOptionConfig,
      recoverMembers: 'true',
      retainData: 'false',
    });
    buildApp(app);
    expect(() => app.synth()).not.toThrow();
  });

  it('reports no unacknowledged finding when the stack names its account and Region (finding ids change then)', () => {
    const app = testApp(SKIP_BUNDLING);
    new VpnFailoverStack(app, 'Pinned', {
      env: { account: '123456789012', region: 'eu-west-1' },
      config: loadConfigFile(everyOptionConfig),
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });

  it('fails synth when a wildcard permission is added without an acknowledged reason', () => {
    const app = testApp({ ...SKIP_BUNDLING, config: 'examples/pairs.yaml' });
    const stack = buildApp(app);
    const careless = new Role(stack, 'Careless', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    careless.addToPolicy(new PolicyStatement({ actions: ['ec2:ReplaceRoute'], resources: ['*'] }));
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5\[Resource::\*\]/);
  });

  it('every acknowledgement states its reason', () => {
    const app = testApp({ ...SKIP_BUNDLING, config: everyOptionConfig });
    buildApp(app);
    const acknowledged = acknowledgements(app);
    // Describe/List/Get actions AWS cannot scope (controller, resize steps, the controller's ListStreams for the
    // agent table's stream), the members' PutMetricData (confined by namespace), the controller's log streams, the
    // ENIs of members without a configured networkInterfaceId (controller and resize failover), and the state
    // machine's logging/tracing, left off because both need '*' (the execution history is the record).
    expect(acknowledged.map((a) => a.id).sort()).toEqual([
      ...Array(9).fill('Annotation::AwsSolutions-IAM5[Resource::*]'),
      'Annotation::AwsSolutions-IAM5[Resource::<ControllerA705BF3F.Arn>:*]',
      'Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]',
      'Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]',
      'Annotation::AwsSolutions-SF1',
      'Annotation::AwsSolutions-SF2',
    ]);
    for (const { id, reason } of acknowledged) {
      expect(typeof reason === 'string' && reason.length > 40, `${id}: ${String(reason)}`).toBe(true);
    }
  });
});
