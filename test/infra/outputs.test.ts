import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { loadConfigFile } from '../../shared/config/file.ts';
import { STACK_OUTPUTS } from '../../shared/telemetry-names.ts';
import { configOf, EXAMPLE_PAIR, SKIP_BUNDLING, synthStack, testApp } from './test-app.ts';

/** The stack's outputs, as `vpn-failover` reads them after DescribeStacks. */
type Outputs = Record<string, { Value: unknown; Description?: string; Export?: unknown }>;

const example = loadConfigFile('examples/pairs.yaml');
const { app, stack, template } = synthStack(example);
const outputs = template.toJSON().Outputs as Outputs;
const resources = template.toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown> }
>;

/** The resource an output's value refers to (Ref or Fn::GetAtt), with the attribute read. */
function referenced(key: string): { type: string; properties: Record<string, unknown>; attribute: string } {
  const value = outputs[key]?.Value as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  const [id, attribute] = value.Ref !== undefined ? [value.Ref, 'Ref'] : (value['Fn::GetAtt'] ?? ['', '']);
  const resource = resources[id];
  if (resource === undefined) throw new Error(`${key} refers to no resource: ${JSON.stringify(value)}`);
  return { type: resource.Type, properties: resource.Properties, attribute };
}

describe('stack outputs the CLI finds the deployment by', () => {
  it('gives every output its fixed key and a description, and exports none across stacks', () => {
    expect(Object.keys(outputs).sort()).toEqual(Object.values(STACK_OUTPUTS).sort());
    for (const [key, output] of Object.entries(outputs)) {
      expect(output.Description?.length, key).toBeGreaterThan(20);
      expect(output.Export, key).toBeUndefined();
    }
    expect(new Set(Object.values(outputs).map((o) => o.Description)).size).toBe(Object.keys(outputs).length);
  });

  it("names the controller Lambda (name and ARN), not the resize step's", () => {
    const name = referenced(STACK_OUTPUTS.controllerFunctionName);
    const arn = referenced(STACK_OUTPUTS.controllerFunctionArn);
    expect(name).toMatchObject({ type: 'AWS::Lambda::Function', attribute: 'Ref' });
    expect(arn).toMatchObject({ type: 'AWS::Lambda::Function', attribute: 'Arn' });
    expect(name.properties).toBe(arn.properties);
    expect(name.properties.Description).toMatch(/^vpn-failover controller \(VpnFailover\)/);
  });

  it('names the state table, the probe document, the resize state machine and the alarm topic', () => {
    expect(referenced(STACK_OUTPUTS.stateTableName)).toMatchObject({
      type: 'AWS::DynamoDB::Table',
      attribute: 'Ref',
    });
    expect(referenced(STACK_OUTPUTS.probeDocumentName)).toMatchObject({
      type: 'AWS::SSM::Document',
      attribute: 'Ref',
    });
    expect(referenced(STACK_OUTPUTS.resizeStateMachineArn)).toMatchObject({
      type: 'AWS::StepFunctions::StateMachine',
      attribute: 'Ref',
    });
    const topic = referenced(STACK_OUTPUTS.alarmTopicArn);
    expect(topic).toMatchObject({ type: 'AWS::SNS::Topic', attribute: 'Ref' });
    // The topic the alarms notify, not some other topic.
    const alarmActions = Object.values(resources)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .flatMap((r) => r.Properties.AlarmActions as unknown[]);
    expect(alarmActions.length).toBeGreaterThan(0);
    expect(
      alarmActions.every((a) => JSON.stringify(a) === JSON.stringify(outputs.AlarmTopicArn?.Value)),
    ).toBe(true);
  });

  it('gives the deployment name, which is the stack name unless the controller is given another', () => {
    expect(outputs.DeploymentName?.Value).toBe('VpnFailover');
    const renamed = synthStack(example, { deploymentName: 'edge-vpn' }, { stackName: 'EdgeStack' });
    expect(renamed.template.toJSON().Outputs.DeploymentName.Value).toBe('edge-vpn');
  });

  it('hashes the configuration exactly as bundled into the Lambda: sha256 of config.json, first 16 hex digits', () => {
    const written = readdirSync(app.outdir).filter((f) => /^vpn-failover-config\.\w+\.json$/.test(f));
    expect(written).toHaveLength(1);
    const bundled = readFileSync(join(app.outdir, written[0] as string));
    const sha = createHash('sha256').update(bundled).digest('hex');
    expect(outputs.ConfigHash?.Value).toBe(sha.slice(0, 16));
    expect(stack.controller.config).toEqual(JSON.parse(bundled.toString('utf8')));
  });

  it('keeps the hash when the same configuration is written differently, and changes it when a value changes', () => {
    const hashOf = (input: Parameters<typeof configOf>[0]) =>
      synthStack(configOf(input)).template.toJSON().Outputs.ConfigHash.Value as string;
    const pair = { ...EXAMPLE_PAIR, primary: { instanceId: EXAMPLE_PAIR.primary.instanceId } };
    // Keys in another order, and a default spelled out: the same validated configuration.
    const reordered = Object.fromEntries(Object.entries(pair).reverse()) as typeof pair;
    const same = hashOf({ pairs: [pair] });
    expect(hashOf({ dryRun: false, pairs: [reordered] })).toBe(same);
    expect(hashOf({ pairs: [{ ...pair, destinations: ['10.50.0.0/16'] }] })).not.toBe(same);
  });

  it('come out of the CDK app for the file named with -c config, under the stack name given', () => {
    const built = testApp({
      ...SKIP_BUNDLING,
      nag: 'false',
      config: 'examples/pairs.yaml',
      stackName: 'EdgeVpn',
    });
    const fromApp = Template.fromStack(buildApp(built)).toJSON().Outputs as Outputs;
    expect(Object.keys(fromApp).sort()).toEqual(Object.values(STACK_OUTPUTS).sort());
    expect(fromApp.DeploymentName?.Value).toBe('EdgeVpn');
    expect(fromApp.ConfigHash?.Value).toBe(outputs.ConfigHash?.Value);
  });
});
