import type { Command } from 'commander';
import { readAgentReports } from '../shared/aws/agent-reports.ts';
import type { OperatorClients } from '../shared/aws/clients.ts';
import { readTunnelMetrics } from '../shared/aws/cloudwatch.ts';
import {
  type IngressRule,
  type InterfaceDescription,
  readIngressRules,
  readInterfaces,
} from '../shared/aws/ec2-checks.ts';
import type { ReadResult } from '../shared/aws/read-result.ts';
import { type AgentPing, readAgentPings } from '../shared/aws/ssm.ts';
import { callerIdentity } from '../shared/aws/sts.ts';
import type { Clock } from '../shared/clock.ts';
import { loadConfigFile } from '../shared/config/file.ts';
import { configHash } from '../shared/config/load.ts';
import { agentEnabled, type Config, type PairConfig } from '../shared/config/schema.ts';
import { observePairs, tunnelQuery } from '../shared/controller/observe.ts';
import { analyseRoutes } from '../shared/decide/routes.ts';
import {
  AGENT_SILENT_AFTER_MS,
  type AgentReport,
  agentMemberKey,
  instanceIdOfMemberKey,
} from '../shared/domain/agent.ts';
import { type Datapoint, type PairObservation, ROLES, type Role } from '../shared/domain/types.ts';
import { formatSeconds } from '../shared/duration.ts';
import { silentLogger } from '../shared/logger.ts';
import { countOf } from '../shared/plural.ts';
import {
  clientsFor,
  clockOf,
  DEFAULT_STACK,
  type Deployment,
  describeError,
  findDeployment,
  OPERATOR_EXIT,
  type OperatorDeps,
  type OperatorOptions,
  runOperator,
  stackNameOf,
  withConfigOption,
  withOperatorOptions,
} from './operator.ts';
import type { CliIo } from './simulate.ts';

/**
 * `vpn-failover doctor [--config FILE]`: check the account against the configuration, before and after deploy.
 * Each check is PASS, WARN, FAIL or SKIP with the fix on one line; exit 1 when any FAILs. Read-only. Without a
 * deployed stack the checks that need it are WARN or SKIP, and the rest still run.
 */

export type CheckStatus = 'PASS' | 'WARN' | 'FAIL' | 'SKIP';

/** One check's finding. */
export interface Check {
  readonly status: CheckStatus;
  /**
   * which check: stack, config-hash, instance, source-dest-check, security-group, esp, ssm-agent, agent, tunnel,
   * route
   */
  readonly check: string;
  /** what it is about: "branch-a primary i-…", "rtb-… 10.50.0.0/16", the stack name */
  readonly subject: string;
  readonly detail: string;
  /** what to do about it, on one line */
  readonly fix?: string;
}

/** The options commander parses for doctor. */
export interface DoctorOptions extends OperatorOptions {
  readonly config: string;
}

/** A tunnel datapoint newer than this counts as reporting. */
export const TUNNEL_REPORTING_WINDOW_MS = 5 * 60_000;

/** IKE (UDP 500) and NAT traversal (UDP 4500) (https://docs.aws.amazon.com/vpn/latest/s2svpn/your-cgw.html). */
const IKE_PORTS = [500, 4500];
/** ESP, IP protocol 50: only needed when NAT-T is not in use (ESP then travels without UDP 4500). */
const ESP_PROTOCOL = '50';

const check = (status: CheckStatus, name: string, subject: string, detail: string, fix?: string): Check => ({
  status,
  check: name,
  subject,
  detail,
  ...(fix !== undefined ? { fix } : {}),
});

/** Whether some rule lets inbound UDP reach the port. */
const allowsUdp = (rules: readonly IngressRule[], port: number): boolean =>
  rules.some(
    (r) =>
      r.protocol === '-1' ||
      ((r.protocol === 'udp' || r.protocol === '17') &&
        (r.fromPort === undefined || r.fromPort <= port) &&
        (r.toPort === undefined || port <= r.toPort)),
  );
const allowsEsp = (rules: readonly IngressRule[]): boolean =>
  rules.some((r) => r.protocol === '-1' || r.protocol === ESP_PROTOCOL || r.protocol === 'esp');

/** Where a member sits in the configuration file, for fixes that say what to edit. */
const memberPath = (config: Config, pair: PairConfig, role: Role) =>
  `pairs[${config.pairs.indexOf(pair)}].${role}.instanceId`;

/** The stack's checks: deployed at all, and deployed with this file. */
function stackChecks(
  stackName: string,
  deployment: Deployment | undefined,
  config: Config,
  file: string,
): Check[] {
  const deploy = `npx cdk deploy -c config=${file}${stackName === DEFAULT_STACK ? '' : ` -c stackName=${stackName}`}`;
  if (deployment === undefined) {
    return [
      check(
        'WARN',
        'stack',
        stackName,
        'not deployed (no such stack): the checks of the deployment are skipped',
        deploy,
      ),
      check('SKIP', 'config-hash', stackName, 'no deployed stack to compare the file with'),
    ];
  }
  const settled = /_COMPLETE$/.test(deployment.stackStatus) && !/ROLLBACK/.test(deployment.stackStatus);
  const hash = configHash(config);
  return [
    settled
      ? check(
          'PASS',
          'stack',
          stackName,
          `${deployment.stackStatus}, deployment ${deployment.deploymentName}`,
        )
      : check(
          'WARN',
          'stack',
          stackName,
          `${deployment.stackStatus}: the last deployment did not complete`,
          `see the stack's events (aws cloudformation describe-stack-events --stack-name ${stackName}), then ${deploy}`,
        ),
    deployment.configHash === undefined
      ? check(
          'WARN',
          'config-hash',
          stackName,
          'the stack has no ConfigHash output (deployed by an older version)',
          deploy,
        )
      : deployment.configHash === hash
        ? check('PASS', 'config-hash', stackName, `deployed with ${file} (ConfigHash ${hash})`)
        : check(
            'FAIL',
            'config-hash',
            stackName,
            `deployed with another configuration (ConfigHash ${deployment.configHash}, ${file} is ${hash})`,
            `deploy the file (${deploy}), or pass --config with the file that was deployed`,
          ),
  ];
}

/** Everything the checks read, in as few calls as the APIs allow. */
interface Facts {
  readonly observations: ReadonlyMap<string, PairObservation>;
  readonly interfaces: ReadResult<string, InterfaceDescription>;
  readonly groups: ReadResult<string, IngressRule[]>;
  /** absent when no pair probes its daemon (SSM is not used) */
  readonly pings?: ReadResult<string, AgentPing>;
  /** absent when no pair has a tunnel metric */
  readonly tunnels?: ReadResult<string, Datapoint[]>;
  /** absent when the stack has no agent table or no pair has the agent enabled */
  readonly agents?: AgentFacts;
  readonly now: number;
}

/** The members' agent reports, or why they could not be read. */
type AgentFacts = { readonly table: string } & (
  | { readonly reports: ReadResult<string, AgentReport | undefined> }
  | { readonly error: string }
);

/** How long doctor waits for agent-table keys DynamoDB leaves unprocessed. */
const AGENT_READ_MS = 10_000;

/**
 * The latest agent report of every member of the pairs that have the agent, when the stack has the agent table.
 * A member's key is its instance ARN, built from the caller's partition and account and the Region, as the
 * stack builds the controller's key prefix (the agent table lives in the members' account and Region).
 */
async function readAgents(
  clients: OperatorClients,
  config: Config,
  deployment: Deployment | undefined,
  clock: Clock,
): Promise<AgentFacts | undefined> {
  const table = deployment?.agentTableName;
  const reporting = config.pairs.filter((p) => agentEnabled(config, p));
  if (table === undefined || reporting.length === 0) return undefined;
  try {
    const [caller, region] = await Promise.all([callerIdentity(clients.sts), clients.ec2.config.region()]);
    const keyPrefix = `arn:${caller.arn.split(':')[1] ?? ''}:ec2:${region}:${caller.account}:instance/`;
    if (instanceIdOfMemberKey(agentMemberKey(keyPrefix, 'i-00000000')) === undefined) {
      return { table, error: `cannot build the members' keys from ${caller.arn} in ${region}` };
    }
    const reports = await readAgentReports(clients.dynamo, {
      tableName: table,
      keyPrefix,
      instanceIds: reporting.flatMap((p) => ROLES.map((r) => p[r].instanceId)),
      deadlineMs: clock.now() + AGENT_READ_MS,
      clock,
      log: silentLogger,
    });
    return { table, reports };
  } catch (error) {
    return { table, error: describeError(error) };
  }
}

async function readFacts(
  clients: OperatorClients,
  config: Config,
  deployment: Deployment | undefined,
  clock: Clock,
): Promise<Facts> {
  // The controller's own reads (instances, route-target ENIs, routes), without the probe (it runs a command on
  // the member) and without the tunnel (read below over the reporting window).
  const plain = config.pairs.map(
    ({ tunnel: _tunnel, ...pair }): PairConfig => ({ ...pair, probe: { kind: 'none' } }),
  );
  const observations = await observePairs(
    {
      clients,
      config: { ...config, pairs: plain },
      tableName: deployment?.tableName ?? '',
      probeDocument: deployment?.probeDocument ?? '',
      clock,
      log: silentLogger,
    },
    plain,
    new Map(),
  );
  const enis = config.pairs.flatMap((p) =>
    ROLES.flatMap((r) => {
      const eni = observations.get(p.name)?.enis[r];
      return eni === undefined ? [] : [eni];
    }),
  );
  const interfaces = await readInterfaces(clients.ec2, enis);
  const probed = config.pairs.filter((p) => p.probe.kind !== 'none');
  const metered = config.pairs.flatMap((p) =>
    p.tunnel === undefined ? [] : [{ pair: p, tunnel: p.tunnel }],
  );
  const now = clock.now();
  const [groups, pings, tunnels, agents] = await Promise.all([
    readIngressRules(
      clients.ec2,
      [...interfaces.values.values()].flatMap((i) => i.groupIds),
    ),
    probed.length === 0
      ? undefined
      : readAgentPings(
          clients.ssm,
          probed.flatMap((p) => ROLES.map((r) => p[r].instanceId)),
        ),
    metered.length === 0
      ? undefined
      : readTunnelMetrics(clients.cloudwatch, {
          queries: metered.flatMap(({ pair }) => ROLES.map((role) => tunnelQuery(pair, role))),
          now,
          datapoints: 1,
        }),
    readAgents(clients, config, deployment, clock),
  ]);
  return {
    observations,
    interfaces,
    groups,
    ...(pings !== undefined ? { pings } : {}),
    ...(tunnels !== undefined ? { tunnels } : {}),
    ...(agents !== undefined ? { agents } : {}),
    now,
  };
}

/** Where the check is about a member. */
interface MemberContext {
  readonly config: Config;
  readonly file: string;
  readonly pair: PairConfig;
  readonly role: Role;
  readonly observation: PairObservation;
  readonly subject: string;
}

/** The member exists and runs. */
function instanceCheck(member: MemberContext): Check {
  const { config, file, pair, role, observation, subject } = member;
  const instance = observation.instances[role];
  const id = pair[role].instanceId;
  if (!instance.found) {
    return check(
      'FAIL',
      'instance',
      subject,
      'EC2 does not know this instance',
      `correct ${memberPath(config, pair, role)} in ${file}`,
    );
  }
  if (instance.state === undefined) {
    return check(
      'WARN',
      'instance',
      subject,
      'its state could not be read',
      'check ec2:DescribeInstanceStatus is allowed, and try again',
    );
  }
  if (instance.state === 'running') {
    return check(
      'PASS',
      'instance',
      subject,
      `running, status checks ${instance.systemStatus ?? '?'}/${instance.instanceStatus ?? '?'}`,
    );
  }
  return check(
    'FAIL',
    'instance',
    subject,
    `${instance.state}, not running`,
    `aws ec2 start-instances --instance-ids ${id}`,
  );
}

/** The member's route-target ENI forwards traffic, and its security groups let IKE, NAT-T and ESP in. */
function interfaceChecks(member: MemberContext, facts: Facts): Check[] {
  const { role, observation, subject } = member;
  const eni = observation.enis[role];
  const description = eni === undefined ? undefined : facts.interfaces.values.get(eni);
  if (eni === undefined || description === undefined) {
    const why = facts.interfaces.errors.find((e) => eni !== undefined && e.includes(eni));
    return [
      check(
        'WARN',
        'source-dest-check',
        subject,
        `its route-target network interface could not be read${why ? `: ${why}` : ''}`,
        'check ec2:DescribeInstances and ec2:DescribeNetworkInterfaces are allowed',
      ),
    ];
  }
  const on = `${subject} ${eni}`;
  const checks = [
    description.sourceDestCheck
      ? check(
          'FAIL',
          'source-dest-check',
          on,
          'source/destination check is ON: the member drops the traffic the routes send it',
          `aws ec2 modify-network-interface-attribute --network-interface-id ${eni} --no-source-dest-check`,
        )
      : check('PASS', 'source-dest-check', on, 'source/destination check is off'),
  ];
  const { groupIds } = description;
  const unread = groupIds.filter((g) => !facts.groups.values.has(g));
  if (groupIds.length === 0) {
    return [
      ...checks,
      check(
        'WARN',
        'security-group',
        on,
        'the interface lists no security group',
        'attach a security group that allows inbound UDP 500 and 4500 from the peer',
      ),
    ];
  }
  if (unread.length > 0) {
    return [
      ...checks,
      check(
        'WARN',
        'security-group',
        on,
        `could not read ${unread.join(', ')}: ${facts.groups.errors[0] ?? 'no answer'}`,
        'check ec2:DescribeSecurityGroups is allowed',
      ),
    ];
  }
  const rules = groupIds.flatMap((g) => facts.groups.values.get(g) ?? []);
  const group = groupIds[0] as string;
  const missing = IKE_PORTS.filter((port) => !allowsUdp(rules, port));
  return [
    ...checks,
    missing.length === 0
      ? check('PASS', 'security-group', on, `${groupIds.join(', ')} allow inbound UDP 500 and 4500`)
      : check(
          'FAIL',
          'security-group',
          on,
          `${groupIds.join(', ')} do not allow inbound UDP ${missing.join(' and ')} (IKE${missing.includes(4500) ? ', NAT-T' : ''})`,
          `aws ec2 authorize-security-group-ingress --group-id ${group} --protocol udp --port ${missing[0]} --cidr PEER_IP/32${missing.length > 1 ? ` (and --port ${missing[1]})` : ''}`,
        ),
    allowsEsp(rules)
      ? check('PASS', 'esp', on, 'inbound ESP (IP protocol 50) is allowed')
      : check(
          'WARN',
          'esp',
          on,
          'inbound ESP (IP protocol 50) is not allowed: fine with NAT-T (ESP inside UDP 4500), needed without it',
          `aws ec2 authorize-security-group-ingress --group-id ${group} --protocol 50 --cidr PEER_IP/32`,
        ),
  ];
}

/** SSM can run the daemon probe on the member: its agent is Online. */
function ssmCheck(member: MemberContext, facts: Facts): Check | undefined {
  const { pair, role, subject } = member;
  if (pair.probe.kind === 'none') {
    return check('SKIP', 'ssm-agent', subject, 'the pair has no daemon probe, so SSM is not used');
  }
  const { pings } = facts;
  if (pings === undefined) return undefined;
  const ping = pings.values.get(pair[role].instanceId);
  if (ping === undefined && pings.errors.length > 0) {
    return check(
      'WARN',
      'ssm-agent',
      subject,
      `could not ask SSM: ${pings.errors[0]}`,
      'check ssm:DescribeInstanceInformation is allowed',
    );
  }
  if (ping === undefined) {
    return check(
      'FAIL',
      'ssm-agent',
      subject,
      'not a managed node of SSM: the daemon probe cannot reach it',
      'give the instance a role with AmazonSSMManagedInstanceCore and check the SSM agent runs and reaches SSM',
    );
  }
  if (ping.pingStatus === 'Online') {
    return check(
      'PASS',
      'ssm-agent',
      subject,
      `SSM agent Online${ping.agentVersion ? ` (${ping.agentVersion})` : ''}`,
    );
  }
  return check(
    'FAIL',
    'ssm-agent',
    subject,
    `SSM agent ${ping.pingStatus}${ping.lastPingAt ? ` since ${new Date(ping.lastPingAt).toISOString()}` : ''}`,
    'on the instance: sudo systemctl restart amazon-ssm-agent (see https://docs.aws.amazon.com/systems-manager/latest/userguide/troubleshooting-ssm-agent.html)',
  );
}

/**
 * The member's agent reports, when the stack has the agent table and the pair has the agent: PASS when its
 * latest report is fresh (newer than AGENT_SILENT_AFTER_MS, after which the controller raises agent-silent),
 * else WARN with where to look (failures on the member are then detected at the probe's pace).
 */
function agentCheck(
  member: MemberContext,
  facts: Facts,
  deployment: Deployment | undefined,
): Check | undefined {
  const { config, pair, role, subject } = member;
  const { agents } = facts;
  if (agents === undefined || !agentEnabled(config, pair)) return undefined;
  const id = pair[role].instanceId;
  const fix = [
    'on the instance: systemctl status vpn-failover-agent',
    `check the instance's association with the agent document${deployment?.agentDocumentName ? ` ${deployment.agentDocumentName}` : ''} (aws ssm list-associations)`,
    `and that its instance role has the agent policy${deployment?.agentPolicyArn ? ` ${deployment.agentPolicyArn}` : ''}`,
  ].join('; ');
  const unread = (why: string) =>
    check(
      'WARN',
      'agent',
      subject,
      `the agent table ${agents.table} could not be read: ${why}`,
      `check dynamodb:BatchGetItem on ${agents.table} is allowed`,
    );
  if ('error' in agents) return unread(agents.error);
  if (!agents.reports.values.has(id)) return unread(agents.reports.errors[0] ?? 'no answer');
  const report = agents.reports.values.get(id);
  if (report === undefined) {
    return check(
      'WARN',
      'agent',
      subject,
      `no report from its agent in ${agents.table}: failures are detected at the probe's pace`,
      fix,
    );
  }
  const at = new Date(report.at).toISOString();
  if (report.claimedInstanceId !== id) {
    return check(
      'WARN',
      'agent',
      subject,
      `the report under its key claims to come from ${report.claimedInstanceId}: never counted as evidence`,
      `reinstall the agent on ${id} (its settings name another instance)`,
    );
  }
  const age = facts.now - report.at;
  if (age > AGENT_SILENT_AFTER_MS) {
    return check(
      'WARN',
      'agent',
      subject,
      `its agent's last report is ${formatSeconds(Math.round(age / 1000))} old (${at}), over the ${formatSeconds(AGENT_SILENT_AFTER_MS / 1000)} after which the controller raises agent-silent`,
      fix,
    );
  }
  return check(
    'PASS',
    'agent',
    subject,
    `agent reporting: ${report.verdict} at ${at} (${report.kind}, agent ${report.agentVersion})`,
  );
}

/** The member's tunnel metric has a datapoint in the last 5 minutes. */
function tunnelCheck(member: MemberContext, facts: Facts): Check | undefined {
  const { pair, role, subject } = member;
  if (pair.tunnel === undefined) {
    return check('SKIP', 'tunnel', subject, 'the pair has no tunnel metric configured');
  }
  const { tunnels } = facts;
  if (tunnels === undefined) return undefined;
  const points = tunnels.values.get(`${pair.name}/${role}`);
  const newest = points?.[0];
  const metric = `${pair.tunnel.namespace} ${pair.tunnel.metricName}`;
  if (points === undefined) {
    return check(
      'WARN',
      'tunnel',
      subject,
      `${metric} could not be read: ${tunnels.errors[0] ?? 'no answer'}`,
      'check cloudwatch:GetMetricData is allowed',
    );
  }
  if (
    newest !== undefined &&
    newest.at + pair.tunnel.period * 1000 >= facts.now - TUNNEL_REPORTING_WINDOW_MS
  ) {
    return check(
      'PASS',
      'tunnel',
      subject,
      `${metric} reporting (latest ${newest.value} at ${new Date(newest.at).toISOString()})`,
    );
  }
  return check(
    'FAIL',
    'tunnel',
    subject,
    `${metric} has no datapoint in the last 5 minutes: the tunnel signal reads unknown`,
    'install and start the tunnel publisher (the member agent) on the instance, with the dimensions the configuration names',
  );
}

/** Every managed route exists, points at a member and is not a blackhole. */
function routeChecks(pair: PairConfig, observation: PairObservation): Check[] {
  const routes = analyseRoutes(pair, observation);
  if (routes === undefined) {
    return [
      check(
        'WARN',
        'route',
        pair.name,
        'the route tables could not be read',
        `check ${pair.routeTables.join(', ')} exist and ec2:DescribeRouteTables is allowed`,
      ),
    ];
  }
  const primaryEni = observation.enis.primary ?? 'ENI_OF_THE_PRIMARY';
  return routes.map((route) => {
    const subject = `${pair.name} ${route.routeTableId} ${route.destination}`;
    const point = `--route-table-id ${route.routeTableId} --destination-cidr-block ${route.destination} --network-interface-id ${primaryEni}`;
    if (route.target === 'missing') {
      return check(
        'FAIL',
        'route',
        subject,
        'no such route: nothing sends this traffic to the pair',
        `aws ec2 create-route ${point} (or let the controller create it)`,
      );
    }
    if (route.target === 'foreign' || route.target === 'orphaned') {
      return check(
        'FAIL',
        'route',
        subject,
        `points at ${route.via}, outside the pair${route.target === 'orphaned' ? ' (deleted)' : ''}: the controller leaves it alone`,
        `aws ec2 replace-route ${point}`,
      );
    }
    if (route.blackhole) {
      return check(
        'FAIL',
        'route',
        subject,
        `points at the ${route.target} (${route.via}) but is a blackhole`,
        `start the ${route.target}, or fail over: vpn-failover failover ${pair.name} --to ${route.target === 'primary' ? 'standby' : 'primary'}`,
      );
    }
    return check('PASS', 'route', subject, `points at the ${route.target} (${route.via})`);
  });
}

/** Every check, in the order printed: the stack, then each pair's members, then its routes. */
export async function runChecks(
  clients: OperatorClients,
  config: Config,
  file: string,
  stackName: string,
  deployment: Deployment | undefined,
  clock: Clock,
): Promise<Check[]> {
  const facts = await readFacts(clients, config, deployment, clock);
  const checks = stackChecks(stackName, deployment, config, file);
  for (const pair of config.pairs) {
    const observation = facts.observations.get(pair.name) as PairObservation;
    for (const role of ROLES) {
      const member = {
        config,
        file,
        pair,
        role,
        observation,
        subject: `${pair.name} ${role} ${pair[role].instanceId}`,
      };
      checks.push(instanceCheck(member));
      // An instance EC2 does not know has nothing else to check.
      if (!observation.instances[role].found) continue;
      checks.push(...interfaceChecks(member, facts));
      // A member whose agent reports is watched by it: its tunnel metric is then not what detection waits on.
      const agent = agentCheck(member, facts, deployment);
      const tunnel = agent?.status === 'PASS' ? undefined : tunnelCheck(member, facts);
      for (const found of [ssmCheck(member, facts), agent, tunnel]) {
        if (found !== undefined) checks.push(found);
      }
    }
    checks.push(...routeChecks(pair, observation));
  }
  return checks;
}

/** The checks as text: one line each, the fix under it. */
export function renderChecks(checks: readonly Check[]): string {
  const lines = checks.flatMap((c) => [
    `${c.status.padEnd(4)}  ${c.check}  ${c.subject}: ${c.detail}`,
    ...(c.fix !== undefined && c.status !== 'PASS' ? [`      fix: ${c.fix}`] : []),
  ]);
  const counts = (status: CheckStatus) => checks.filter((c) => c.status === status).length;
  lines.push(
    '',
    `${countOf(checks.length, 'check')}: ${counts('PASS')} PASS, ${counts('WARN')} WARN, ${counts('FAIL')} FAIL, ${counts('SKIP')} SKIP`,
  );
  return `${lines.join('\n')}\n`;
}

/** Run the command; resolves to the exit status (1 when any check FAILs). */
export async function runDoctor(options: DoctorOptions, io: CliIo, deps: OperatorDeps = {}): Promise<number> {
  return runOperator(io, 'doctor', async () => {
    const config = loadConfigFile(options.config);
    const clients = clientsFor(options, deps);
    const stackName = stackNameOf(options, deps.env ?? process.env);
    const deployment = await findDeployment(clients, stackName);
    const checks = await runChecks(clients, config, options.config, stackName, deployment, clockOf(deps));
    const failed = checks.some((c) => c.status === 'FAIL');
    if (options.json) {
      io.stdout(
        `${JSON.stringify({ stack: stackName, config: options.config, ok: !failed, checks }, null, 2)}\n`,
      );
    } else {
      io.stdout(renderChecks(checks));
    }
    return failed ? OPERATOR_EXIT.failed : OPERATOR_EXIT.ok;
  });
}

/** Add the doctor subcommand to the program. */
export function addDoctorCommand(program: Command, io: CliIo, deps: OperatorDeps = {}): Command {
  return withConfigOption(
    withOperatorOptions(
      program
        .command('doctor')
        .description(
          'check the account against the configuration (before or after deploy): PASS/WARN/FAIL with the fix',
        ),
    ),
  ).action(async (options: DoctorOptions) => {
    io.setExitCode(await runDoctor(options, io, deps));
  });
}
