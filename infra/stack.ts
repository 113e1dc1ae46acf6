import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Config } from '../shared/config/schema.ts';
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
    // What `vpn-failover resize` needs (cli/resize.ts RESIZE_ENV names the variables that take these values).
    new CfnOutput(this, 'ResizeStateMachineArn', {
      value: this.controller.resize.stateMachine.stateMachineArn,
      description: 'VPN_FAILOVER_STATE_MACHINE_ARN for vpn-failover resize',
    });
    new CfnOutput(this, 'StateTableName', {
      value: this.controller.table.tableName,
      description: 'VPN_FAILOVER_TABLE for vpn-failover resize --dry-run',
    });
    new CfnOutput(this, 'ProbeDocumentName', {
      value: this.controller.probeDocumentName,
      description: 'VPN_FAILOVER_PROBE_DOCUMENT for vpn-failover resize --dry-run',
    });
  }
}
