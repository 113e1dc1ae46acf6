import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { configHash } from '../shared/config/load.ts';
import type { Config } from '../shared/config/schema.ts';
import { STACK_OUTPUTS } from '../shared/telemetry-names.ts';
import { VpnFailoverController, type VpnFailoverControllerProps } from './controller.ts';

/** Props of {@link VpnFailoverStack}. */
export interface VpnFailoverStackProps extends StackProps {
  /** The validated configuration. */
  readonly config: Config;
  /** Everything else the controller construct accepts. @default the construct's defaults */
  readonly controller?: Omit<VpnFailoverControllerProps, 'config'>;
}

/**
 * The ready-made stack: one {@link VpnFailoverController}. Environment-agnostic unless `env` is given, so
 * `cdk synth` needs no credentials; `cdk deploy` deploys into the account and Region of the CLI's credentials.
 */
export class VpnFailoverStack extends Stack {
  /** The controller construct (table, topic, probe document, functions, alarms, dashboard). */
  readonly controller: VpnFailoverController;

  constructor(scope: Construct, id: string, props: VpnFailoverStackProps) {
    const { config, controller, ...stackProps } = props;
    super(scope, id, {
      description: 'vpn-failover: active/standby failover for EC2 VPN instance pairs',
      // Indentation doubles the template; without it a 500-pair template stays under CloudFormation's 1 MB.
      suppressTemplateIndentation: true,
      ...stackProps,
    });
    this.controller = new VpnFailoverController(this, 'Controller', { ...controller, config });
    this.addOutputs();
  }

  /**
   * What the CLI needs to find and check the deployment, under the keys of STACK_OUTPUTS. Nothing is exported:
   * an export would pin these resources against replacement while another stack imports them.
   */
  private addOutputs(): void {
    const { controller, config, deploymentName, table, probeDocumentName, resize, topic } = this.controller;
    // The agent's outputs exist only when some pair runs the agent (MemberAgent.outputs, below).
    type AlwaysOutput = Exclude<
      keyof typeof STACK_OUTPUTS,
      'agentTableName' | 'agentPolicyArn' | 'agentDocumentName'
    >;
    const outputs: Record<AlwaysOutput, { value: string; description: string }> = {
      controllerFunctionName: {
        value: controller.functionName,
        description: 'The controller Lambda: vpn-failover failover invokes it',
      },
      controllerFunctionArn: { value: controller.functionArn, description: 'The controller Lambda ARN' },
      stateTableName: {
        value: table.tableName,
        description: 'The DynamoDB state table: pair state, leases, pauses and history',
      },
      probeDocumentName: {
        value: probeDocumentName,
        description: 'The SSM Command document that probes the VPN daemon on a member',
      },
      resizeStateMachineArn: {
        value: resize.stateMachine.stateMachineArn,
        description: 'The zero-downtime resize state machine: vpn-failover resize starts it',
      },
      alarmTopicArn: { value: topic.topicArn, description: 'The SNS topic every alarm notifies' },
      deploymentName: {
        value: deploymentName,
        description: 'The deployment name: alarm-name prefix and dashboard name',
      },
      configHash: {
        value: configHash(config),
        description:
          'sha256 (first 16 hex digits) of the validated configuration as deployed; vpn-failover doctor compares it with the file',
      },
    };
    const all: Partial<Record<keyof typeof STACK_OUTPUTS, { value: string; description: string }>> = {
      ...outputs,
      ...this.controller.agent?.outputs(),
    };
    for (const [name, output] of Object.entries(all)) {
      new CfnOutput(this, STACK_OUTPUTS[name as keyof typeof STACK_OUTPUTS], output);
    }
  }
}
