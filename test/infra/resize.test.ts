import type { Role } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { LAMBDA_THROTTLED, RESIZE_STEP_ALIAS } from '../../infra/resize-workflow.ts';
import { loadConfigFile } from '../../shared/config/file.ts';
import {
  actionsOf,
  logicalIdOf,
  policyStatements,
  readable,
  resourcesOf,
  synthStack,
  type TemplateStatement,
} from './test-app.ts';

const { template, stack } = synthStack(loadConfigFile('examples/pairs.yaml'));
const resize = stack.controller.resize;

const statementsOf = (role: Role): TemplateStatement[] => {
  const roleId = logicalIdOf(stack, role);
  return policyStatements(template).filter((s) =>
    JSON.stringify(template.toJSON().Resources[s.policy]?.Properties?.Roles ?? []).includes(roleId),
  );
};
const stepStatements = statementsOf(resize.stepFunction.role as Role);
const machineStatements = statementsOf(resize.stateMachine.role as Role);
const withAction = (statements: TemplateStatement[], action: string) =>
  statements.filter((s) => actionsOf(s).includes(action));
const members = ['i-0123456789abcdef0', 'i-0fedcba9876543210'].map(
  (id) => `arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:instance/${id}`,
);

describe('resize step permissions', () => {
  it('may change only the instance type of the members, never their user data or source/destination check', () => {
    const modify = withAction(stepStatements, 'ec2:ModifyInstanceAttribute');
    expect(modify).toHaveLength(1);
    expect(actionsOf(modify[0] as TemplateStatement)).toEqual(['ec2:ModifyInstanceAttribute']);
    expect(resourcesOf(modify[0] as TemplateStatement).sort()).toEqual(members);
    expect(modify[0]?.Condition).toEqual({ Null: { 'ec2:Attribute/InstanceType': 'false' } });
  });

  it('may stop and start only the members', () => {
    for (const action of ['ec2:StopInstances', 'ec2:StartInstances']) {
      expect(withAction(stepStatements, action).flatMap(resourcesOf).sort()).toEqual(members);
    }
  });

  it('can start a member whose volumes use a customer-managed key: a KMS grant only through EC2, only for AWS resources', () => {
    const grant = withAction(stepStatements, 'kms:CreateGrant');
    expect(grant).toHaveLength(1);
    expect(actionsOf(grant[0] as TemplateStatement)).toEqual(['kms:CreateGrant']);
    expect(resourcesOf(grant[0] as TemplateStatement)).toEqual(['*']);
    const condition = grant[0]?.Condition as {
      StringEquals: Record<string, unknown>;
      Bool: Record<string, unknown>;
    };
    expect(readable(condition.StringEquals['kms:ViaService'])).toBe(`ec2.\${AWS::Region}.amazonaws.com`);
    expect(condition.Bool).toEqual({ 'kms:GrantIsForAWSResource': 'true' });
  });

  it('reads probe results without ssm:GetCommandInvocation, which the probe never calls', () => {
    expect(stepStatements.flatMap(actionsOf)).not.toContain('ssm:GetCommandInvocation');
    expect(stepStatements.flatMap(actionsOf)).toContain('ssm:ListCommandInvocations');
  });
});

describe('resize state machine', () => {
  it('is allowed to publish to the topic by one statement, with the key actions SNS needs', () => {
    const publish = withAction(machineStatements, 'sns:Publish');
    expect(publish).toHaveLength(1);
    expect(publish[0]?.Resource).toEqual({ Ref: logicalIdOf(stack, stack.controller.topic) });
    expect(withAction(machineStatements, 'kms:GenerateDataKey').flatMap(resourcesOf)).toEqual([
      `\${${logicalIdOf(stack, stack.controller.topicKey)}.Arn}`,
    ]);
  });

  it('retries every Lambda step with backoff when Lambda throttles the invoke', () => {
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0];
    const definition = JSON.parse(readable(machine?.Properties.DefinitionString)) as {
      States: Record<string, { Type: string; Resource?: string; Retry?: Record<string, unknown>[] }>;
    };
    // payloadResponseOnly: each Lambda step names the step function's alias as its resource.
    const alias = logicalIdOf(
      stack,
      resize.stepFunction.node.findChild(`Alias${RESIZE_STEP_ALIAS}`) as never,
    );
    const lambdaTasks = Object.entries(definition.States).filter(
      ([, state]) => state.Type === 'Task' && String(state.Resource).includes(alias),
    );
    expect(lambdaTasks.length).toBeGreaterThan(10);
    for (const [name, state] of lambdaTasks) {
      const retry = state.Retry?.find((r) => (r.ErrorEquals as string[]).includes(LAMBDA_THROTTLED));
      expect(retry, name).toMatchObject({ MaxAttempts: expect.any(Number), BackoffRate: expect.any(Number) });
      expect(retry?.MaxAttempts as number).toBeGreaterThanOrEqual(3);
      expect(retry?.BackoffRate as number).toBeGreaterThan(1);
    }
  });
});
