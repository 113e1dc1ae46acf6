import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import type { Role } from 'aws-cdk-lib/aws-iam';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AGENT_PARAMETERS,
  AGENT_PATHS,
  AGENT_REAPPLY,
  AGENT_STEP_NAME,
  agentDocumentContent,
  agentInstallerScript,
  agentVersion,
  INSTALL_ROOT_ENV,
  OLD_PUBLISHER,
} from '../../infra/agent.ts';
import { PROBE_SCRIPT } from '../../infra/probe-document.ts';
import type { ConfigInput } from '../../shared/config/schema.ts';
import { InputError } from '../../shared/errors.ts';
import { ENV, STACK_OUTPUTS } from '../../shared/telemetry-names.ts';
import { runWithFakes } from './stubs.ts';
import {
  actionsOf,
  configOf,
  EXAMPLE_PAIR,
  logicalIdOf,
  policyStatements,
  readable,
  resourcesOf,
  type Synthesized,
  synthStack,
  type TemplateStatement,
} from './test-app.ts';

/** Members `2i` and `2i+1` of pair i, as manyPairs numbers them. */
const member = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;
const pairNamed = (name: string, i: number) => ({
  ...EXAMPLE_PAIR,
  name,
  primary: { instanceId: member(2 * i) },
  standby: { instanceId: member(2 * i + 1) },
  routeTables: [`rtb-${i.toString(16).padStart(17, '0')}`],
});

/**
 * Five pairs: strongSwan with its tunnel metric in the controller's own namespace (which members may not
 * publish to), systemd with a high-resolution metric of its own, one reading AWS/VPN, one opted out, one
 * without a probe (nothing for an agent to check).
 */
const mixed: ConfigInput = {
  agent: { instanceRoles: ['vpn-members', 'vpn-spares'] },
  pairs: [
    pairNamed('branch-a', 0),
    {
      ...pairNamed('systemd-pair', 1),
      probe: { kind: 'systemd', unit: 'strongswan-starter' },
      tunnel: { namespace: 'Edge/Tunnels', metricName: 'Up', period: 10 },
    },
    { ...pairNamed('aws-vpn', 2), tunnel: { namespace: 'AWS/VPN', metricName: 'TunnelState' } },
    { ...pairNamed('opted-out', 3), agent: { enabled: false } },
    { ...pairNamed('no-probe', 4), probe: { kind: 'none' } },
  ],
};
const withAgent = synthStack(configOf(mixed));
const resources = withAgent.template.toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown> }
>;
const ofType = (type: string, s: Synthesized = withAgent) =>
  Object.entries(s.template.toJSON().Resources as typeof resources).filter(([, r]) => r.Type === type);
const agent = withAgent.stack.controller.agent;
if (agent === undefined) throw new Error('the mixed configuration has agent pairs');
const agentTableId = logicalIdOf(withAgent.stack, agent.table);
const agentTableArn = `\${${agentTableId}.Arn}`;
const stateTableArn = `\${${logicalIdOf(withAgent.stack, withAgent.stack.controller.table)}.Arn}`;

/** The members' policy as synthesized: the one managed policy that grants dynamodb:PutItem on the agent table. */
function memberPolicy(): {
  id: string;
  properties: Record<string, unknown>;
  statements: TemplateStatement[];
} {
  const id = logicalIdOf(withAgent.stack, agent?.policy as never);
  const properties = resources[id]?.Properties as Record<string, unknown>;
  return { id, properties, statements: policyStatements(withAgent.template).filter((s) => s.policy === id) };
}

/** A request as IAM evaluates it: the action, the resource, and the request's condition keys. */
interface Request {
  readonly action: string;
  readonly resource: string;
  readonly context: Readonly<Record<string, readonly string[]>>;
}

/**
 * Whether identity-policy statements allow a request: some Allow statement names the action and the resource
 * (or `*`) and all its conditions hold, with policy variables `${key}` replaced by the request's value. Only
 * the operators these policies use are known; any other fails the test rather than guessing.
 */
function allows(statements: readonly TemplateStatement[], request: Request): boolean {
  const substitute = (value: string) =>
    value.replace(/\$\{([^}]+)\}/g, (_, key: string) => request.context[key]?.[0] ?? `<no ${key}>`);
  const holds = (operator: string, key: string, wanted: string[]): boolean => {
    const given = request.context[key] ?? [];
    const values = wanted.map(substitute);
    if (operator === 'ForAllValues:StringEquals') return given.every((v) => values.includes(v));
    if (operator === 'StringEquals') return given.length === 1 && values.includes(given[0] as string);
    throw new Error(`unknown condition operator ${operator}`);
  };
  return statements.some((statement) => {
    if (statement.Effect !== 'Allow' || !actionsOf(statement).includes(request.action)) return false;
    if (!resourcesOf(statement).some((r) => r === '*' || r === request.resource)) return false;
    const conditions = (statement.Condition ?? {}) as Record<string, Record<string, string | string[]>>;
    return Object.entries(conditions).every(([operator, keys]) =>
      Object.entries(keys).every(([key, wanted]) =>
        holds(operator, key, Array.isArray(wanted) ? wanted : [wanted]),
      ),
    );
  });
}

const ARN_PREFIX = 'arn:aws:ec2:eu-west-1:123456789012:instance/';
const memberA = `${ARN_PREFIX}${member(0)}`;
const memberB = `${ARN_PREFIX}${member(1)}`;
const putReport = (sender: string, key: string, resource = agentTableArn): Request => ({
  action: 'dynamodb:PutItem',
  resource,
  context: { 'ec2:SourceInstanceARN': [sender], 'dynamodb:LeadingKeys': [key] },
});

describe("the members' policy: a member may write only its own report", () => {
  it('lets a member put the report keyed by its own instance ARN', () => {
    expect(allows(memberPolicy().statements, putReport(memberA, memberA))).toBe(true);
  });

  it("denies a member the report keyed by another member's ARN: it cannot speak for its partner", () => {
    expect(allows(memberPolicy().statements, putReport(memberA, memberB))).toBe(false);
    expect(allows(memberPolicy().statements, putReport(memberB, memberA))).toBe(false);
  });

  it('denies a report sent with credentials that are no instance profile (no source instance)', () => {
    const request = putReport(memberA, memberA);
    expect(
      allows(memberPolicy().statements, {
        ...request,
        context: { 'dynamodb:LeadingKeys': [memberA] },
      }),
    ).toBe(false);
  });

  it('grants PutItem only, only on the agent table, only under the LeadingKeys condition: no other DynamoDB action, no other table', () => {
    const { statements } = memberPolicy();
    const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo).toHaveLength(1);
    expect(actionsOf(dynamo[0] as TemplateStatement)).toEqual(['dynamodb:PutItem']);
    expect(resourcesOf(dynamo[0] as TemplateStatement)).toEqual([agentTableArn]);
    expect(dynamo[0]?.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [`\${ec2:SourceInstanceARN}`] },
    });
    for (const action of ['dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']) {
      expect(allows(statements, { ...putReport(memberA, memberA), action })).toBe(false);
    }
    expect(allows(statements, putReport(memberA, memberA, stateTableArn))).toBe(false);
  });

  it("allows PutMetricData only into the pairs' tunnel namespaces: never the controller's own, never an AWS one", () => {
    const { statements } = memberPolicy();
    expect(statements.flatMap(actionsOf).sort()).toEqual(['cloudwatch:PutMetricData', 'dynamodb:PutItem']);
    const publish = (namespace: string) =>
      allows(statements, {
        action: 'cloudwatch:PutMetricData',
        resource: '*',
        context: { 'cloudwatch:namespace': [namespace] },
      });
    expect(publish('VpnFailover/Tunnels')).toBe(true);
    expect(publish('Edge/Tunnels')).toBe(true);
    expect(publish('VpnFailover')).toBe(false);
    expect(publish('AWS/VPN')).toBe(false);
  });

  it('is attached to every role named in agent.instanceRoles, and to nothing else', () => {
    const { properties } = memberPolicy();
    expect(properties.Roles).toEqual(['vpn-members', 'vpn-spares']);
    expect(properties.Users).toBeUndefined();
    expect(properties.Groups).toBeUndefined();
  });
});

describe('the agent table and its stream to the controller', () => {
  it('keys each report by member only, on demand, with TTL, a NEW_IMAGE stream, encryption and point-in-time recovery', () => {
    expect(resources[agentTableId]?.Properties).toEqual({
      AttributeDefinitions: [{ AttributeName: 'member', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'member', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      SSESpecification: { SSEEnabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('invokes the controller only for change reports, at once, in batches of 10, dropping records older than a minute', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    const properties = mappings[0]?.[1].Properties as Record<string, unknown>;
    expect(properties).toEqual({
      EventSourceArn: { 'Fn::GetAtt': [agentTableId, 'StreamArn'] },
      FunctionName: { Ref: logicalIdOf(withAgent.stack, withAgent.stack.controller.controller) },
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 0,
      StartingPosition: 'LATEST',
      MaximumRetryAttempts: 2,
      MaximumRecordAgeInSeconds: 60,
      FilterCriteria: { Filters: [{ Pattern: expect.any(String) }] },
    });
    const pattern = JSON.parse(
      (properties.FilterCriteria as { Filters: { Pattern: string }[] }).Filters[0]?.Pattern as string,
    );
    expect(pattern).toEqual({ dynamodb: { NewImage: { kind: { S: ['change'] } } } });
  });

  it("gives the controller the table's name and the member key prefix, and lets it read reports by key only", () => {
    const fnId = logicalIdOf(withAgent.stack, withAgent.stack.controller.controller);
    const environment = resources[fnId]?.Properties.Environment as { Variables: Record<string, unknown> };
    const variables = environment.Variables;
    expect(variables[ENV.agentTableName]).toEqual({ Ref: agentTableId });
    expect(variables[ENV.agentMemberKeyPrefix]).toEqual({
      'Fn::Sub': `arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:instance/`,
    });
    const roleId = logicalIdOf(withAgent.stack, withAgent.stack.controller.controller.role as Role);
    const onAgentTable = policyStatements(withAgent.template)
      .filter((s) => JSON.stringify(resources[s.policy]?.Properties?.Roles ?? []).includes(roleId))
      .filter((s) => resourcesOf(s).includes(agentTableArn));
    expect(onAgentTable.flatMap(actionsOf).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem']);
  });

  it('gives nothing of the agent table to the resize step or any role but the controller', () => {
    const controllerRole = logicalIdOf(withAgent.stack, withAgent.stack.controller.controller.role as Role);
    const memberPolicyId = memberPolicy().id;
    for (const statement of policyStatements(withAgent.template)) {
      if (statement.policy === memberPolicyId) continue;
      const onAgent = resourcesOf(statement).some((r) => r.startsWith(`\${${agentTableId}.`));
      if (!onAgent) continue;
      expect(JSON.stringify(resources[statement.policy]?.Properties.Roles)).toContain(controllerRole);
    }
  });
});

describe('installing the agent on the members: one State Manager association per pair that runs it', () => {
  const associations = () =>
    ofType('AWS::SSM::Association').map(([, r]) => r.Properties as Record<string, unknown>);
  const byName = (name: string) =>
    associations().find((a) => a.AssociationName === `VpnFailover-agent-${name}`);

  it('targets both members of each pair with the agent, and no pair that opted out or has no probe', () => {
    expect(associations().map((a) => a.AssociationName)).toEqual([
      'VpnFailover-agent-branch-a',
      'VpnFailover-agent-systemd-pair',
      'VpnFailover-agent-aws-vpn',
    ]);
    expect(byName('systemd-pair')?.Targets).toEqual([{ Key: 'InstanceIds', Values: [member(2), member(3)] }]);
    const targeted = associations().flatMap((a) => (a.Targets as { Values: string[] }[])[0]?.Values ?? []);
    for (const n of [6, 7, 8, 9]) expect(targeted).not.toContain(member(n));
  });

  it('upgrades one member at a time, stops at the first failure, and re-applies daily', () => {
    for (const association of associations()) {
      expect(association).toMatchObject({
        MaxConcurrency: '1',
        MaxErrors: '0',
        ScheduleExpression: AGENT_REAPPLY,
      });
      expect(association.Name).toEqual({ Ref: expect.stringMatching(/Installer/) });
    }
  });

  it("passes each pair's probe, the table, the Region and the tunnel metric its signal reads", () => {
    const parameters = (name: string) =>
      Object.fromEntries(
        Object.entries(byName(name)?.Parameters as Record<string, unknown[]>).map(([k, v]) => [
          k,
          v.map(readable),
        ]),
      );
    const common = {
      Action: ['install'],
      ReportTable: [`\${${agentTableId}}`],
      Region: [`\${AWS::Region}`],
      AgentVersion: [agent.version],
    };
    expect(parameters('branch-a')).toEqual({
      ...common,
      ProbeKind: ['strongswan'],
      MinSas: ['1'],
      // The pair reads the controller's namespace, closed to members: the agent publishes the default instead.
      Namespace: ['VpnFailover/Tunnels'],
      MetricName: ['TunnelUp'],
      StorageResolution: ['60'],
      MetricInterval: ['60'],
    });
    expect(parameters('systemd-pair')).toEqual({
      ...common,
      ProbeKind: ['systemd'],
      Unit: ['strongswan-starter'],
      Namespace: ['Edge/Tunnels'],
      MetricName: ['Up'],
      StorageResolution: ['1'],
      MetricInterval: ['10'],
    });
    expect(parameters('aws-vpn')).toMatchObject({ Namespace: ['AWS/VPN'], MetricName: ['TunnelState'] });
  });

  it("warns at synth when a pair's tunnel metric is in the controller's namespace, where its agent may not publish", () => {
    Annotations.fromStack(withAgent.stack).hasWarning(
      '*',
      Match.stringLikeRegexp(
        "pair branch-a: the tunnel metric is read from VpnFailover, the controller's own",
      ),
    );
  });

  it('carries the hash of the shipped scripts, so changing any of them re-runs every association', () => {
    expect(agent.version).toBe(agentVersion(agentInstallerScript()));
    expect(agent.version).toMatch(/^[0-9a-f]{16}$/);
    expect(agentVersion(agentInstallerScript().replace('vpn-failover', 'vpn-failover '))).not.toBe(
      agent.version,
    );
  });

  it('is refused at synth when a pair it runs on names a tunnel metric the installer cannot write as a setting', () => {
    let thrown: unknown;
    try {
      synthStack(configOf({ pairs: [{ ...pairNamed('spaced', 0), tunnel: { namespace: 'Edge Tunnels' } }] }));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InputError);
    expect((thrown as InputError).problems.map((p) => p.path)).toEqual(['pairs[0].tunnel.namespace']);
  });
});

describe('a configuration with the agent off', () => {
  it('for every pair creates no agent resource, no controller setting and no output', () => {
    const off = synthStack(configOf({ agent: { enabled: false }, pairs: [pairNamed('branch-a', 0)] }));
    expect(off.stack.controller.agent).toBeUndefined();
    for (const type of [
      'AWS::SSM::Association',
      'AWS::Lambda::EventSourceMapping',
      'AWS::IAM::ManagedPolicy',
    ]) {
      expect(ofType(type, off), type).toEqual([]);
    }
    expect(ofType('AWS::DynamoDB::Table', off)).toHaveLength(1);
    expect(ofType('AWS::SSM::Document', off)).toHaveLength(1);
    const json = JSON.stringify(off.template.toJSON());
    expect(json).not.toContain(ENV.agentTableName);
    expect(json).not.toContain('dynamodb:ListStreams');
    expect(Object.keys(off.template.toJSON().Outputs)).not.toContain(STACK_OUTPUTS.agentTableName);
  });

  it('at the top level still installs it on the one pair that turns it on', () => {
    const one = synthStack(
      configOf({
        agent: { enabled: false },
        pairs: [pairNamed('off', 0), { ...pairNamed('on', 1), agent: { enabled: true } }],
      }),
    );
    expect(ofType('AWS::SSM::Association', one).map(([, r]) => r.Properties.AssociationName)).toEqual([
      'VpnFailover-agent-on',
    ]);
  });
});

describe('stack outputs of the agent', () => {
  it('name the agent table, the members policy and the installer document (not the probe document)', () => {
    const outputs = withAgent.template.toJSON().Outputs as Record<string, { Value: { Ref: string } }>;
    const typeOf = (key: string) => resources[outputs[key]?.Value.Ref as string]?.Type;
    expect(outputs[STACK_OUTPUTS.agentTableName]?.Value).toEqual({ Ref: agentTableId });
    expect(typeOf(STACK_OUTPUTS.agentPolicyArn)).toBe('AWS::IAM::ManagedPolicy');
    expect(outputs[STACK_OUTPUTS.agentPolicyArn]?.Value).toEqual({ Ref: memberPolicy().id });
    expect(typeOf(STACK_OUTPUTS.agentDocumentName)).toBe('AWS::SSM::Document');
    const document = resources[outputs[STACK_OUTPUTS.agentDocumentName]?.Value.Ref as string];
    const content = document?.Properties.Content as { mainSteps: { name: string }[] };
    const step = content.mainSteps[0];
    expect(step?.name).toBe(AGENT_STEP_NAME);
  });
});

describe('the synthesized template', () => {
  it('has no cfn-lint error (cfn-lint 1.51)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpn-failover-lint-'));
    try {
      const file = join(dir, 'template.json');
      writeFileSync(file, JSON.stringify(withAgent.template.toJSON()));
      const lint = spawnSync('cfn-lint', ['--format', 'json', file], { encoding: 'utf8' });
      expect(lint.error).toBeUndefined();
      const findings = JSON.parse(lint.stdout) as { Level: string; Rule: { Id: string }; Message: string }[];
      expect(findings.filter((f) => f.Level === 'Error').map((f) => `${f.Rule.Id} ${f.Message}`)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The installer document as synthesized, its script and its parameters' defaults. */
function installerDocument(): { script: string; defaults: Record<string, string> } {
  const outputs = withAgent.template.toJSON().Outputs as Record<string, { Value: { Ref: string } }>;
  const content = resources[outputs[STACK_OUTPUTS.agentDocumentName]?.Value.Ref as string]?.Properties
    .Content as {
    parameters: Record<string, { default: string }>;
    mainSteps: { inputs: { runCommand: string[] } }[];
  };
  return {
    script: content.mainSteps[0]?.inputs.runCommand.join('\n') as string,
    defaults: Object.fromEntries(Object.entries(content.parameters).map(([k, p]) => [k, p.default])),
  };
}

/** What SSM hands the script for the pair's association: every parameter as SSM_<name>, defaults filled in. */
function associationEnvironment(
  pair: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const association = ofType('AWS::SSM::Association')
    .map(([, r]) => r.Properties)
    .find((p) => p.AssociationName === `VpnFailover-agent-${pair}`);
  const resolved = (value: unknown) =>
    ({ [`\${${agentTableId}}`]: 'VpnFailover-AgentReports-1A2B3C', '${AWS::Region}': 'eu-west-1' })[
      readable(value)
    ] ?? readable(value);
  const given = Object.fromEntries(
    Object.entries(association?.Parameters as Record<string, unknown[]>).map(([k, v]) => [k, resolved(v[0])]),
  );
  const parameters = { ...installerDocument().defaults, ...given, ...overrides };
  return Object.fromEntries(Object.entries(parameters).map(([k, v]) => [`SSM_${k}`, v]));
}

const shipped = (file: string) => readFileSync(new URL(`../../instance/${file}`, import.meta.url), 'utf8');

describe.each(['bash', 'sh'] as const)('the installer document run by %s', (shell) => {
  let root = '';
  const scratch = mkdtempSync(join(tmpdir(), `vpn-failover-install-${shell}-`));
  let runs = 0;
  beforeEach(() => {
    runs += 1;
    root = join(scratch, `root-${runs}`);
    mkdirSync(root);
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const at = (path: string) => join(root, path);
  const systemctlFails = (args: string) => `[ "$*" = "${args}" ] && exit 1\nexit 0`;
  const install = (env: Record<string, string> = associationEnvironment('systemd-pair'), systemctl = '') =>
    runWithFakes(shell, installerDocument().script, { systemctl }, { [INSTALL_ROOT_ENV]: root, ...env });

  it('installs the check, the agent and its unit as shipped, writes the settings from the parameters, and starts the agent', () => {
    const run = install();
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(readFileSync(at(AGENT_PATHS.check), 'utf8')).toBe(PROBE_SCRIPT);
    expect(readFileSync(at(AGENT_PATHS.agent), 'utf8')).toBe(shipped('vpn-failover-agent.sh'));
    expect(readFileSync(at(AGENT_PATHS.unit), 'utf8')).toBe(shipped('vpn-failover-agent.service'));
    expect(statSync(at(AGENT_PATHS.agent)).mode & 0o777).toBe(0o755);
    expect(statSync(at(AGENT_PATHS.check)).mode & 0o777).toBe(0o755);
    expect(statSync(at(AGENT_PATHS.unit)).mode & 0o777).toBe(0o644);
    const settings = readFileSync(at(AGENT_PATHS.settings), 'utf8').split('\n');
    expect(settings.filter((line) => line !== '' && !line.startsWith('#'))).toEqual([
      `CHECK=${AGENT_PATHS.check}`,
      'PROBE=systemd',
      'UNIT=strongswan-starter',
      'MIN_SAS=1',
      'REPORT_TABLE=VpnFailover-AgentReports-1A2B3C',
      'AWS_DEFAULT_REGION=eu-west-1',
      'NAMESPACE=Edge/Tunnels',
      'METRIC_NAME=Up',
      'STORAGE_RESOLUTION=1',
      'METRIC_INTERVAL=10',
      'CHECK_INTERVAL=1',
      'CHECK_TIMEOUT=1',
      'DEBOUNCE=2',
      'HEARTBEAT=60',
      'REPORT_WITH=curl',
      `AGENT_VERSION=${agent.version}`,
    ]);
    expect(run.calls).toEqual([
      'systemctl daemon-reload',
      'systemctl enable vpn-failover-agent.service',
      'systemctl restart vpn-failover-agent.service',
    ]);
  });

  it('stops and deletes the old tunnel-metric publisher it replaces', () => {
    for (const file of OLD_PUBLISHER.files) {
      mkdirSync(dirname(at(file)), { recursive: true });
      writeFileSync(at(file), 'old\n');
    }
    const run = install();
    expect(run.status).toBe(0);
    for (const file of OLD_PUBLISHER.files) expect(existsSync(at(file)), file).toBe(false);
    expect(run.calls).toContain(
      'systemctl disable --now vpn-failover-tunnel-metric.timer vpn-failover-tunnel-metric.service',
    );
    expect(run.calls.at(-1)).toBe('systemctl restart vpn-failover-agent.service');
  });

  it('run again with nothing changed (the daily re-apply), touches no file and restarts nothing', () => {
    install();
    const old = new Date('2026-01-01T00:00:00Z');
    for (const path of Object.values(AGENT_PATHS)) utimesSync(at(path), old, old);
    const run = install();
    expect(run.status).toBe(0);
    expect(run.calls).toEqual([
      'systemctl daemon-reload',
      'systemctl enable --now vpn-failover-agent.service',
    ]);
    for (const path of Object.values(AGENT_PATHS)) expect(statSync(at(path)).mtime, path).toEqual(old);
  });

  it('an upgrade (an older agent script in place) replaces the script and restarts the agent', () => {
    install();
    writeFileSync(at(AGENT_PATHS.agent), '#!/usr/bin/env bash\n# an older agent\n');
    const run = install();
    expect(run.status).toBe(0);
    expect(readFileSync(at(AGENT_PATHS.agent), 'utf8')).toBe(shipped('vpn-failover-agent.sh'));
    expect(run.calls.at(-1)).toBe('systemctl restart vpn-failover-agent.service');
  });

  it('a changed setting (a new probe minimum) rewrites the settings and restarts the agent', () => {
    install(associationEnvironment('branch-a'));
    const run = install(associationEnvironment('branch-a', { MinSas: '2' }));
    expect(run.status).toBe(0);
    expect(readFileSync(at(AGENT_PATHS.settings), 'utf8')).toContain('\nMIN_SAS=2\n');
    expect(run.calls.at(-1)).toBe('systemctl restart vpn-failover-agent.service');
  });

  it('fails the run when the agent does not restart, so the association stops before the second member', () => {
    const run = install(undefined, systemctlFails('restart vpn-failover-agent.service'));
    expect(run.status).not.toBe(0);
  });

  it('remove stops and disables the agent and deletes its files, and nothing else', () => {
    install();
    writeFileSync(at('/usr/local/bin/someone-elses-tool'), 'keep\n');
    const run = install({ SSM_Action: 'remove' });
    expect(run.status).toBe(0);
    for (const path of Object.values(AGENT_PATHS)) expect(existsSync(at(path)), path).toBe(false);
    expect(readFileSync(at('/usr/local/bin/someone-elses-tool'), 'utf8')).toBe('keep\n');
    expect(run.calls).toEqual([
      'systemctl disable --now vpn-failover-agent.service',
      'systemctl daemon-reload',
    ]);
  });

  it('refuses to run without its parameters (an SSM Agent too old to pass them) and writes nothing', () => {
    const run = install({});
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/no parameters arrived .*SSM Agent 3\.3\.2746\.0/);
    expect(run.calls).toEqual([]);
    expect(existsSync(at('/usr'))).toBe(false);
  });

  it('refuses a parameter that would smuggle a second line into the settings file, and writes nothing', () => {
    const run = install(
      associationEnvironment('branch-a', { ProbeKind: 'strongswan\nREPORT_TABLE=someone-elses-table' }),
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('parameter ProbeKind holds a character it may not');
    expect(run.calls).toEqual([]);
    expect(existsSync(at('/usr'))).toBe(false);
  });

  it('refuses an unknown action', () => {
    const run = install(associationEnvironment('branch-a', { Action: 'purge' }));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('Action must be install or remove (got purge)');
  });
});

describe('the installer and the shipped agent agree', () => {
  it('takes every parameter only as an environment variable, constrained by a pattern its default satisfies', () => {
    const { parameters } = agentDocumentContent() as {
      parameters: Record<string, { interpolationType: string; allowedPattern: string; default: string }>;
    };
    expect(Object.keys(parameters).sort()).toEqual(Object.keys(AGENT_PARAMETERS).sort());
    for (const [name, parameter] of Object.entries(parameters)) {
      expect(parameter.interpolationType, name).toBe('ENV_VAR');
      expect(new RegExp(parameter.allowedPattern).test(parameter.default), name).toBe(true);
      expect(new RegExp(parameter.allowedPattern).test('x\ny'), name).toBe(false);
    }
    expect(installerDocument().script).not.toContain('{{');
  });

  it("fits SSM's 64 KB document size quota with room to grow (https://docs.aws.amazon.com/general/latest/gr/ssm.html)", () => {
    expect(JSON.stringify(agentDocumentContent()).length).toBeLessThan(48 * 1024);
  });

  it('on every setting the shipped settings file names', () => {
    const documented = shipped('vpn-failover-agent.env')
      .split('\n')
      .map((line) => /^#? ?([A-Z_]+)=/.exec(line)?.[1])
      .filter((key): key is string => key !== undefined);
    const written = [
      'CHECK',
      ...Object.values(AGENT_PARAMETERS).flatMap((p) => (p.key === undefined ? [] : [p.key])),
    ];
    expect(documented.length).toBeGreaterThan(10);
    for (const key of documented) expect(written, key).toContain(key);
  });

  it('on where the unit finds the agent and its settings', () => {
    const unit = shipped('vpn-failover-agent.service');
    expect(unit).toContain(`\nExecStart=${AGENT_PATHS.agent}\n`);
    expect(unit).toMatch(new RegExp(`\\nEnvironmentFile=-?${AGENT_PATHS.settings}\\n`));
  });
});
