import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Annotations, Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, StreamViewType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, ManagedPolicy, PolicyStatement, Role } from 'aws-cdk-lib/aws-iam';
import {
  FilterCriteria,
  FilterRule,
  type Function as LambdaFunction,
  StartingPosition,
} from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { CfnAssociation, CfnDocument } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { agentEnabled, type Config, type PairConfig } from '../shared/config/schema.ts';
import { AGENT_HEARTBEAT_MS, AGENT_ITEM } from '../shared/domain/agent.ts';
import { InputError, type InputProblem } from '../shared/errors.ts';
import {
  ENV,
  METRICS_NAMESPACE,
  PROBE_PARAMETER_PATTERNS,
  TUNNEL_NAMESPACE,
} from '../shared/telemetry-names.ts';
import { PROBE_SCRIPT } from './probe-document.ts';

/**
 * The member agent's deployment (instance/vpn-failover-agent.sh): the table its reports go to, the stream that
 * invokes the controller on a change, the one policy the members' instance role needs, and the SSM Command
 * document plus one State Manager association per pair that install and upgrade it on both members.
 *
 * A member can speak only for itself: its policy allows dynamodb:PutItem on the agent table only where the
 * item's partition key equals the sending instance's own ARN, `${ec2:SourceInstanceARN}`
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html), so a report's key names
 * its sender; the controller reads each member's report by that member's key.
 */

/** Where the installer puts the agent's files on a member (the unit and scripts refer to these paths). */
export const AGENT_PATHS = {
  check: '/usr/local/bin/vpn-failover-check',
  agent: '/usr/local/bin/vpn-failover-agent',
  unit: '/etc/systemd/system/vpn-failover-agent.service',
  settings: '/etc/default/vpn-failover-agent',
} as const;

/** The systemd unit of the agent. */
export const AGENT_SERVICE = 'vpn-failover-agent.service';

/** The tunnel-metric publisher the agent replaces; the installer stops and deletes it where it finds it. */
export const OLD_PUBLISHER = {
  units: ['vpn-failover-tunnel-metric.timer', 'vpn-failover-tunnel-metric.service'],
  files: [
    '/etc/systemd/system/vpn-failover-tunnel-metric.timer',
    '/etc/systemd/system/vpn-failover-tunnel-metric.service',
    '/usr/local/bin/vpn-failover-tunnel-metric',
  ],
} as const;

/**
 * Test-only: a directory the installer treats as the file system root (unset on a member, where the paths are
 * the real ones). test/infra/agent.test.ts runs the document's script in a temporary root with it.
 */
export const INSTALL_ROOT_ENV = 'VPN_FAILOVER_INSTALL_ROOT';

/** The metric name the agent publishes when the pair reads no tunnel metric of its own. */
const DEFAULT_METRIC_NAME = 'TunnelUp';

/** A CloudWatch namespace or metric name the installer can write into the settings file as it is. */
const METRIC_TEXT = '^[A-Za-z0-9._/#:-]{1,255}$';

/** Seconds, with up to three decimals (the agent refuses 0 itself). */
const SECONDS = '^[0-9]{1,7}([.][0-9]{1,3})?$';

/**
 * The installer document's parameters: name, settings-file key, allowedPattern and default. Each arrives as the
 * environment variable SSM_<name> (interpolationType ENV_VAR, SSM Agent 3.3.2746.0 or later,
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html) and
 * is written into the settings file as data, never into shell text. Every pattern admits only characters the
 * installer checks again (SAFE_VALUE).
 */
export const AGENT_PARAMETERS = {
  Action: { key: undefined, pattern: '^(install|remove)$', default: 'install' },
  ProbeKind: { key: 'PROBE', pattern: PROBE_PARAMETER_PATTERNS.kind, default: 'strongswan' },
  Unit: { key: 'UNIT', pattern: PROBE_PARAMETER_PATTERNS.unit, default: 'strongswan' },
  MinSas: { key: 'MIN_SAS', pattern: PROBE_PARAMETER_PATTERNS.minSas, default: '1' },
  PingTarget: { key: 'PING_TARGET', pattern: '^$|^[A-Za-z0-9.:][A-Za-z0-9.:-]{0,252}$', default: '' },
  ReportTable: { key: 'REPORT_TABLE', pattern: '^$|^[A-Za-z0-9_.-]{3,255}$', default: '' },
  Region: { key: 'AWS_DEFAULT_REGION', pattern: '^$|^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$', default: '' },
  Namespace: { key: 'NAMESPACE', pattern: METRIC_TEXT, default: TUNNEL_NAMESPACE },
  MetricName: { key: 'METRIC_NAME', pattern: METRIC_TEXT, default: DEFAULT_METRIC_NAME },
  StorageResolution: { key: 'STORAGE_RESOLUTION', pattern: '^(1|60)$', default: '60' },
  MetricInterval: { key: 'METRIC_INTERVAL', pattern: SECONDS, default: '60' },
  CheckInterval: { key: 'CHECK_INTERVAL', pattern: SECONDS, default: '1' },
  CheckTimeout: { key: 'CHECK_TIMEOUT', pattern: SECONDS, default: '1' },
  Debounce: { key: 'DEBOUNCE', pattern: '^[1-9][0-9]?$', default: '2' },
  Heartbeat: { key: 'HEARTBEAT', pattern: SECONDS, default: String(AGENT_HEARTBEAT_MS / 1000) },
  ReportWith: { key: 'REPORT_WITH', pattern: '^$|^(curl|cli)$', default: 'curl' },
  AgentVersion: { key: 'AGENT_VERSION', pattern: '^[A-Za-z0-9._+-]{0,64}$', default: '' },
} as const satisfies Record<string, { key: string | undefined; pattern: string; default: string }>;

export type AgentParameter = keyof typeof AGENT_PARAMETERS;

/** The characters the installer accepts in any parameter (a second check after SSM's allowedPattern). */
const SAFE_VALUE = 'A-Za-z0-9._/#:@+-';

/** The document's one step, as it appears in the association's and the command's output. */
export const AGENT_STEP_NAME = 'installAgent';

/** The installer's execution timeout: writing four files and a restart take seconds. */
const INSTALL_TIMEOUT_SECONDS = 120;

/**
 * How often State Manager applies the association again, so a member that drifted (a hand-edited settings file,
 * a stopped unit) is put right.
 */
export const AGENT_REAPPLY = 'rate(1 day)';

const shipped = (file: string): string =>
  readFileSync(new URL(`../instance/${file}`, import.meta.url), 'utf8');

/** The pairs whose members run the agent (agentEnabled). */
export const agentPairs = (config: Config): PairConfig[] =>
  config.pairs.filter((p) => agentEnabled(config, p));

/** An AWS namespace (AWS/VPN TunnelState): AWS publishes it, the agent publishes nothing (PutMetricData refuses). */
const isAwsNamespace = (namespace: string): boolean => namespace.startsWith('AWS/');

/**
 * The tunnel metric the agent publishes for a pair: the one its tunnel signal reads, else TunnelUp in the tunnel
 * namespace (as the old publisher did). Never the controller's own namespace, which the members' policy does not
 * open (a member could forge the controller's heartbeat and health metrics): the agent then publishes into the
 * tunnel namespace, with a synth warning. Given an AWS namespace, the agent publishes nothing.
 */
export function agentMetric(pair: PairConfig): {
  namespace: string;
  metricName: string;
  storageResolution: '1' | '60';
  interval: string;
} {
  const own = pair.tunnel && pair.tunnel.namespace !== METRICS_NAMESPACE ? pair.tunnel : undefined;
  const period = own?.period ?? 60;
  return {
    namespace: own?.namespace ?? TUNNEL_NAMESPACE,
    metricName: own?.metricName ?? DEFAULT_METRIC_NAME,
    // A period below a minute needs high-resolution datapoints at least once a period.
    storageResolution: period < 60 ? '1' : '60',
    interval: String(Math.min(period, 60)),
  };
}

/** The heredoc delimiter of the embedded files: a file holding this line would end its heredoc early. */
const END_OF_FILE = 'VPN_FAILOVER_END_OF_FILE';

function heredoc(target: string, file: string, content: string): string {
  if (content.split('\n').includes(END_OF_FILE)) {
    throw new InputError('agent installer', [
      { path: file, message: `holds the line ${END_OF_FILE}, which would end its heredoc early` },
    ]);
  }
  // SSM would read "{{ name }}" in a document's text as a parameter reference.
  if (content.includes('{{')) {
    throw new InputError('agent installer', [
      { path: file, message: 'holds "{{", which SSM would read as a parameter reference' },
    ]);
  }
  return `cat > "${target}" <<'${END_OF_FILE}'\n${content.endsWith('\n') ? content : `${content}\n`}${END_OF_FILE}`;
}

const settingsLines = Object.entries(AGENT_PARAMETERS)
  .filter(([, p]) => p.key !== undefined)
  .map(([name, p]) => `  put ${p.key} "\${SSM_${name}:-}"`);

/**
 * The installer script (POSIX sh, run as root by the SSM agent). Every file it installs is embedded in a
 * quoted heredoc, so nothing in them is expanded; parameters reach it only as environment variables and are
 * written into the settings file as data.
 */
export function agentInstallerScript(): string {
  const installer = `#!/bin/sh
# vpn-failover member agent installer (SSM Command document, generated by infra/agent.ts).
# SSM_Action=install writes the daemon check, the agent, its unit and ${AGENT_PATHS.settings} (from the
# parameters), removes the old tunnel-metric publisher, and (re)starts the agent only when a file changed.
# SSM_Action=remove stops the agent and deletes its files.
set -eu
root="\${${INSTALL_ROOT_ENV}:-}"

fail() {
  echo "vpn-failover agent installer: $*" >&2
  exit 1
}

[ -n "\${SSM_Action:-}" ] ||
  fail "no parameters arrived (they come as environment variables from SSM Agent 3.3.2746.0 or later)"
${Object.keys(AGENT_PARAMETERS)
  .map(
    (name) => `case "\${SSM_${name}:-}" in
  *[!${SAFE_VALUE}]*) fail "parameter ${name} holds a character it may not" ;;
esac`,
  )
  .join('\n')}

check="$root${AGENT_PATHS.check}"
agent="$root${AGENT_PATHS.agent}"
unit="$root${AGENT_PATHS.unit}"
settings="$root${AGENT_PATHS.settings}"

if [ "$SSM_Action" = remove ]; then
  if [ -e "$unit" ]; then
    systemctl disable --now ${AGENT_SERVICE}
  fi
  rm -f "$agent" "$check" "$unit" "$settings"
  systemctl daemon-reload
  echo "vpn-failover agent removed"
  exit 0
fi
[ "$SSM_Action" = install ] || fail "Action must be install or remove (got $SSM_Action)"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

${heredoc('$stage/check', 'instance/vpn-failover-check.sh', PROBE_SCRIPT)}
${heredoc('$stage/agent', 'instance/vpn-failover-agent.sh', shipped('vpn-failover-agent.sh'))}
${heredoc('$stage/unit', 'instance/vpn-failover-agent.service', shipped('vpn-failover-agent.service'))}

put() {
  if [ -n "$2" ]; then printf '%s=%s\\n' "$1" "$2"; fi
}
{
  echo "# Written by the vpn-failover agent installer (SSM State Manager) on every run: edits are overwritten."
  echo "CHECK=${AGENT_PATHS.check}"
${settingsLines.join('\n')}
} >"$stage/settings"

changed=no
# Install $1 as $2 with mode $3 unless $2 already holds exactly that.
place() {
  if [ -f "$2" ] && [ "$(sha256sum <"$1")" = "$(sha256sum <"$2")" ]; then
    return 0
  fi
  mkdir -p "$(dirname "$2")"
  install -m "$3" "$1" "$2"
  changed=yes
  echo "installed $2"
}
place "$stage/check" "$check" 0755
place "$stage/agent" "$agent" 0755
place "$stage/unit" "$unit" 0644
place "$stage/settings" "$settings" 0644

# The agent publishes the tunnel metric now: one thing per instance, not two.
old=no
for file in ${OLD_PUBLISHER.files.map((f) => `"$root${f}"`).join(' ')}; do
  if [ -e "$file" ]; then old=yes; fi
done
if [ "$old" = yes ]; then
  systemctl disable --now ${OLD_PUBLISHER.units.join(' ')} || true
  rm -f ${OLD_PUBLISHER.files.map((f) => `"$root${f}"`).join(' ')}
  echo "removed the old tunnel-metric publisher"
fi

systemctl daemon-reload
if [ "$changed" = yes ]; then
  systemctl enable ${AGENT_SERVICE}
  systemctl restart ${AGENT_SERVICE}
  echo "vpn-failover agent (re)started"
else
  systemctl enable --now ${AGENT_SERVICE}
  echo "vpn-failover agent unchanged"
fi
`;
  return installer;
}

/** A hash of everything the installer ships (its own text embeds every file): a new value means an upgrade. */
export const agentVersion = (script: string = agentInstallerScript()): string =>
  createHash('sha256').update(script).digest('hex').slice(0, 16);

/** The installer document's content (schema 2.2), exported so tests can run its exact script. */
export function agentDocumentContent(script: string = agentInstallerScript()): Record<string, unknown> {
  const parameters = Object.fromEntries(
    Object.entries(AGENT_PARAMETERS).map(([name, p]) => [
      name,
      {
        type: 'String',
        interpolationType: 'ENV_VAR',
        description: p.key ? `${p.key} in ${AGENT_PATHS.settings}` : 'install (or upgrade) | remove',
        default: p.default,
        allowedPattern: p.pattern,
      },
    ]),
  );
  return {
    schemaVersion: '2.2',
    description:
      'vpn-failover member agent: Action=install installs or upgrades it (restarting it only when a file changed), Action=remove removes it.',
    parameters,
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: AGENT_STEP_NAME,
        precondition: { StringEquals: ['platformType', 'Linux'] },
        inputs: { timeoutSeconds: INSTALL_TIMEOUT_SECONDS, runCommand: script.trimEnd().split('\n') },
      },
    ],
  };
}

/** Agent settings the configuration fixes that the installer document cannot carry, one problem each. */
export function agentProblems(config: Config): InputProblem[] {
  const problems: InputProblem[] = [];
  const text = new RegExp(METRIC_TEXT);
  config.pairs.forEach((pair, index) => {
    if (!agentEnabled(config, pair)) return;
    const metric = agentMetric(pair);
    for (const [field, value] of [
      ['namespace', metric.namespace],
      ['metricName', metric.metricName],
    ] as const) {
      if (!text.test(value)) {
        problems.push({
          path: `pairs[${index}].tunnel.${field}`,
          message: `the member agent publishes into it, so it may hold only letters, digits and . _ / # : - (got ${JSON.stringify(value)}); or set agent: { enabled: false } on the pair`,
        });
      }
    }
  });
  return problems;
}

/** Props of {@link MemberAgent}. */
export interface MemberAgentProps {
  readonly config: Config;
  /** Names the associations (`<deploymentName>-agent-<pair>`). */
  readonly deploymentName: string;
  /** The controller: the table's stream invokes it, and it gets the table's name and key prefix. */
  readonly controller: LambdaFunction;
}

/**
 * The member agent's resources, for the pairs with the agent enabled (`agentEnabled`):
 * - the agent table: `member` (S) partition key, on demand, TTL on `expiresAt`, stream NEW_IMAGE, AWS-managed
 *   encryption and point-in-time recovery as the state table;
 * - the stream mapped to the controller: batches of 10, no batching window, LATEST, only `kind = change`
 *   records (a heartbeat invokes nothing), 2 retries, records older than 60 s dropped (the schedule looks
 *   anyway); the controller gets ENV.agentTableName and ENV.agentMemberKeyPrefix;
 * - the members' managed policy: PutItem of their own report, PutMetricData into the tunnel namespaces;
 *   attached to `config.agent.instanceRoles`;
 * - the installer document and one State Manager association per pair, one member at a time.
 * The controller's read of the table is `readStatements()` (granted with its other permissions).
 */
export class MemberAgent extends Construct {
  readonly table: Table;
  /** The members' policy: the agent's only permissions. */
  readonly policy: ManagedPolicy;
  /** The installer's SSM Command document. */
  readonly documentName: string;
  /** One per pair with the agent enabled, by pair name. */
  readonly associations: ReadonlyMap<string, CfnAssociation>;
  /** The hash of the shipped scripts, passed to every association as AgentVersion. */
  readonly version: string;

  constructor(scope: Construct, id: string, props: MemberAgentProps) {
    super(scope, id);
    const { config, deploymentName, controller } = props;
    const problems = agentProblems(config);
    if (problems.length > 0) throw new InputError('member agent', problems);
    const pairs = agentPairs(config);
    const stack = Stack.of(this);
    const redirected = pairs.filter((p) => p.tunnel?.namespace === METRICS_NAMESPACE).map((p) => p.name);
    if (redirected.length > 0) {
      Annotations.of(this).addWarningV2(
        'vpn-failover:agentMetricNamespace',
        `${redirected.length === 1 ? 'pair' : 'pairs'} ${redirected.slice(0, 5).join(', ')}${redirected.length > 5 ? ` and ${redirected.length - 5} more` : ''}: the tunnel metric is read from ${METRICS_NAMESPACE}, the controller's own namespace, where members may not publish; the agent publishes ${DEFAULT_METRIC_NAME} into ${TUNNEL_NAMESPACE} instead`,
      );
    }

    this.table = new Table(this, 'Reports', {
      partitionKey: { name: AGENT_ITEM.member, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: AGENT_ITEM.expiresAt,
      stream: StreamViewType.NEW_IMAGE,
      // Only each member's latest report, gone after a day anyway: nothing worth keeping past the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // The filter drops heartbeats before the function, so they invoke (and cost) nothing
    // (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html).
    controller.addEventSource(
      new DynamoEventSource(this.table, {
        startingPosition: StartingPosition.LATEST,
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(0),
        retryAttempts: 2,
        maxRecordAge: Duration.seconds(60),
        filters: [
          FilterCriteria.filter({
            dynamodb: { NewImage: { [AGENT_ITEM.kind]: { S: FilterRule.isEqual('change') } } },
          }),
        ],
      }),
    );
    Validations.of(controller.role ?? controller).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        "dynamodb:ListStreams, which Lambda's event source mapping needs to find the agent table's stream, supports no resource-level permissions; it is read-only. The stream reads themselves name the agent table's stream.",
    });
    // Lambda environment variables reach the function as they are, so the prefix is resolved by CloudFormation.
    const memberKeyPrefix = Fn.sub(`arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:instance/`);
    controller.addEnvironment(ENV.agentTableName, this.table.tableName);
    controller.addEnvironment(ENV.agentMemberKeyPrefix, memberKeyPrefix);

    const namespaces = [...new Set(pairs.map((p) => agentMetric(p).namespace))]
      .filter((n) => !isAwsNamespace(n))
      .sort();
    this.policy = new ManagedPolicy(this, 'MemberPolicy', {
      description: `vpn-failover ${deploymentName} member agent: write the member's own report, publish its tunnel metric`,
      statements: [
        new PolicyStatement({
          sid: 'WriteOwnAgentReport',
          effect: Effect.ALLOW,
          actions: ['dynamodb:PutItem'],
          resources: [this.table.tableArn],
          conditions: {
            'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [SOURCE_INSTANCE_ARN] },
          },
        }),
        ...(namespaces.length > 0 ? [tunnelMetricStatement(namespaces)] : []),
      ],
      roles: config.agent.instanceRoles.map((name, i) => Role.fromRoleName(this, `InstanceRole${i}`, name)),
    });
    if (namespaces.length > 0) {
      Validations.of(this.policy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'cloudwatch:PutMetricData supports no resource-level permissions; the statement confines it to the tunnel namespaces with the cloudwatch:namespace condition, apart from the controller namespace.',
      });
    }

    const script = agentInstallerScript();
    this.version = agentVersion(script);
    const document = new CfnDocument(this, 'Installer', {
      documentType: 'Command',
      documentFormat: 'JSON',
      targetType: '/AWS::EC2::Instance',
      content: agentDocumentContent(script),
    });
    this.documentName = document.ref;

    const associations = new Map<string, CfnAssociation>();
    for (const pair of pairs) {
      associations.set(
        pair.name,
        new CfnAssociation(this, `Install-${pair.name}`, {
          name: this.documentName,
          associationName: `${deploymentName}-agent-${pair.name}`,
          targets: [{ key: 'InstanceIds', values: [pair.primary.instanceId, pair.standby.instanceId] }],
          parameters: associationParameters(pair, this.table.tableName, stack.region, this.version),
          // One member at a time, so an upgrade never restarts both agents at once; MaxErrors 0 stops the run at
          // the first failure, before it reaches the second member
          // (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateAssociation.html).
          // State Manager applies an association when it is created and whenever it is updated, and then on its
          // schedule (https://docs.aws.amazon.com/systems-manager/latest/userguide/state-manager-about.html):
          // a deployment that changes the scripts changes AgentVersion, so every association runs again.
          maxConcurrency: '1',
          maxErrors: '0',
          scheduleExpression: AGENT_REAPPLY,
        }),
      );
    }
    this.associations = associations;
  }

  /** The controller's reads of the agent table: a member's report by its key, several at once. */
  readStatements(): PolicyStatement[] {
    return [
      new PolicyStatement({
        sid: 'ReadAgentReports',
        effect: Effect.ALLOW,
        actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem'],
        resources: [this.table.tableArn],
      }),
    ];
  }

  /** The agent's stack outputs, under the keys of STACK_OUTPUTS. */
  outputs(): Record<
    'agentTableName' | 'agentPolicyArn' | 'agentDocumentName',
    { value: string; description: string }
  > {
    return {
      agentTableName: {
        value: this.table.tableName,
        description:
          "The member agent's report table: each member's latest report, keyed by its instance ARN",
      },
      agentPolicyArn: {
        value: this.policy.managedPolicyArn,
        description:
          "The managed policy the members' instance role needs for the agent (agent.instanceRoles attaches it)",
      },
      agentDocumentName: {
        value: this.documentName,
        description:
          'The SSM Command document that installs (Action=install) or removes (Action=remove) the agent',
      },
    };
  }
}

/** PutMetricData, only into these namespaces: it has no resource-level permissions, so the condition confines it. */
function tunnelMetricStatement(namespaces: string[]): PolicyStatement {
  return new PolicyStatement({
    sid: 'PublishTunnelMetric',
    effect: Effect.ALLOW,
    actions: ['cloudwatch:PutMetricData'],
    resources: ['*'],
    conditions: { StringEquals: { 'cloudwatch:namespace': namespaces } },
  });
}

/** The IAM policy variable naming the instance that sends a request with its instance-profile credentials. */
const SOURCE_INSTANCE_ARN = `\${ec2:SourceInstanceARN}`;

/** The association's parameters for one pair: its probe settings, the table, the Region and its metric. */
function associationParameters(
  pair: PairConfig,
  tableName: string,
  region: string,
  version: string,
): Partial<Record<AgentParameter, string[]>> {
  const metric = agentMetric(pair);
  const probe = pair.probe;
  return {
    Action: ['install'],
    ProbeKind: [probe.kind],
    ...(probe.kind === 'systemd' ? { Unit: [probe.unit] } : {}),
    ...(probe.kind === 'strongswan' || probe.kind === 'libreswan' ? { MinSas: [String(probe.minSas)] } : {}),
    ReportTable: [tableName],
    Region: [region],
    Namespace: [metric.namespace],
    MetricName: [metric.metricName],
    StorageResolution: [metric.storageResolution],
    MetricInterval: [metric.interval],
    AgentVersion: [version],
  };
}
