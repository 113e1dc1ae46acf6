import { Stack } from 'aws-cdk-lib';
import type { Role } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import {
  MANAGED_POLICIES_PER_ROLE,
  MANAGED_POLICY_LIMIT,
  ROLE_INLINE_LIMIT,
  type RolePolicySize,
  rolePolicyExcess,
  rolePolicySize,
  worstCaseSize,
} from '../../infra/policy-size.ts';
import { InputError } from '../../shared/errors.ts';
import {
  actionsOf,
  configOf,
  logicalIdOf,
  manyPairs,
  PAIRS_PER_STACK,
  policyStatements,
  resourcesOf,
  type Synthesized,
  synthMostPairs,
  synthStack,
} from './test-app.ts';

/** The controller's role and the resize step's role: the two whose policies name every member. */
const roleSizes = ({ stack }: Synthesized): RolePolicySize[] =>
  [stack.controller.controller.role, stack.controller.resize.stepFunction.role].map((role) =>
    rolePolicySize(role as Role),
  );
/** Sixty pairs: enough for the resize step's role to need more than one managed policy. Read, never changed. */
let sixty: Synthesized | undefined;
const sixtyPairs = (): Synthesized => {
  sixty ??= synthStack(configOf({ pairs: manyPairs(60) }));
  return sixty;
};
const total = (size: RolePolicySize) => size.inline + size.managed.reduce((a, b) => a + b, 0);

function refusal(pairs: number): InputError {
  try {
    synthStack(configOf({ pairs: manyPairs(pairs) }));
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error(`${pairs} pairs synthesized`);
}

describe("IAM's policy size quotas", () => {
  it(`a stack of ${PAIRS_PER_STACK} pairs synthesizes with every role's policies within the quotas`, () => {
    for (const size of roleSizes(synthMostPairs())) {
      expect(size.inline, size.role).toBeLessThanOrEqual(ROLE_INLINE_LIMIT);
      expect(size.managed.length, size.role).toBeLessThanOrEqual(MANAGED_POLICIES_PER_ROLE);
      for (const managed of size.managed)
        expect(managed, size.role).toBeLessThanOrEqual(MANAGED_POLICY_LIMIT);
    }
  });

  it('one pair more is refused at synth, naming the role, its size against the quota, and how many pairs a stack holds', () => {
    const error = refusal(PAIRS_PER_STACK + 1);
    expect(error.problems).toHaveLength(1);
    const [problem] = error.problems;
    expect(problem?.path).toBe('config.pairs');
    const match = problem?.message.match(
      /^with 163 pairs the IAM policies of role VpnFailover\/Controller\/ResizeStepRole would not deploy: it needs 11 managed policies of at most 6144 characters \(\d+ characters in all\), above IAM's default of 10 per role \(61440 characters\) \(https:\/\/docs\.aws\.amazon\.com\/IAM\/latest\/UserGuide\/reference_iam-quotas\.html\); split the pairs over several configurations and stacks of at most (\d+) pairs each$/,
    );
    expect(match, problem?.message).not.toBeNull();
    // The advice is safe (that many pairs do fit) and not far below what fits.
    const advised = Number(match?.[1]);
    expect(advised).toBeLessThanOrEqual(PAIRS_PER_STACK);
    expect(advised).toBeGreaterThanOrEqual(PAIRS_PER_STACK - 15);
  });

  it('each pair adds at most its two members and its route table to each role, at their longest', () => {
    const [small, large] = [
      roleSizes(synthStack(configOf({ pairs: manyPairs(20) }))),
      roleSizes(sixtyPairs()),
    ];
    const growth = (i: number) =>
      (total(large?.[i] as RolePolicySize) - total(small?.[i] as RolePolicySize)) / 40;
    // A member ARN is at most 80 characters with its quotes and comma, a route table ARN 85 (WORST_CASE_LENGTH);
    // each managed policy adds its own few hundred characters of document and statement syntax. The controller
    // names each member once (SendCommand); the resize step twice: stop, start and SendCommand together, and
    // retype on its own because of its condition. Before compaction the resize step named each member three
    // times (6 × 80 + 85 = 565 characters a pair), and one statement naming every member had to fit one
    // 6,144-character policy: 34 pairs at the worst case.
    expect(growth(0)).toBeLessThanOrEqual((2 * 80 + 85) * 1.06);
    expect(growth(1)).toBeLessThanOrEqual((4 * 80 + 85) * 1.06);
    expect(growth(1)).toBeGreaterThanOrEqual(4 * 80 + 85 - 10);
  });

  it('splitting a long member list over managed policies leaves each member and route table with exactly its actions', () => {
    const { template, stack } = sixtyPairs();
    const role = stack.controller.resize.stepFunction.role as Role;
    expect(rolePolicySize(role).managed.length).toBeGreaterThan(1);
    const roleId = logicalIdOf(stack, role);
    const granted = new Map<string, Set<string>>();
    for (const statement of policyStatements(template)) {
      if (
        !JSON.stringify(template.toJSON().Resources[statement.policy]?.Properties?.Roles ?? []).includes(
          roleId,
        )
      )
        continue;
      const suffix = statement.Condition ? ` if ${JSON.stringify(statement.Condition)}` : '';
      for (const resource of resourcesOf(statement)) {
        const actions = granted.get(resource) ?? new Set<string>();
        for (const action of actionsOf(statement)) actions.add(`${action}${suffix}`);
        granted.set(resource, actions);
      }
    }
    const actionsOn = (id: string) =>
      [...(granted.get(`arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:${id}`) ?? [])].sort();
    const members = manyPairs(60).flatMap((p) => [p.primary.instanceId, p.standby.instanceId]);
    for (const member of members) {
      expect(actionsOn(`instance/${member}`)).toEqual([
        'ec2:ModifyInstanceAttribute if {"Null":{"ec2:Attribute/InstanceType":"false"}}',
        'ec2:StartInstances',
        'ec2:StopInstances',
        'ssm:SendCommand',
      ]);
    }
    for (const table of manyPairs(60).flatMap((p) => p.routeTables)) {
      expect(actionsOn(`route-table/${table}`)).toEqual(['ec2:CreateRoute', 'ec2:ReplaceRoute']);
    }
  });

  it('names every quota a role exceeds: its inline total, one managed policy, the number of managed policies', () => {
    const managed = Array.from({ length: 11 }, (_, i) => (i === 0 ? 6_145 : 100));
    expect(rolePolicyExcess({ role: 'R', inline: 10_241, managed, perPair: 0 })).toEqual([
      "its inline policies come to 10241 characters, above IAM's 10240 per role",
      "a managed policy comes to 6145 characters, above IAM's 6144 per policy",
      "it needs 11 managed policies of at most 6144 characters (7145 characters in all), above IAM's default of 10 per role (61440 characters)",
    ]);
    expect(rolePolicyExcess({ role: 'R', inline: 10_240, managed: [6_144], perPair: 0 })).toEqual([]);
  });

  it('counts an ARN at its longest: partition aws-us-gov, a 16-character Region, a 12-digit account', () => {
    const stack = new Stack();
    const arn = stack.formatArn({
      service: 'ec2',
      resource: 'instance',
      resourceName: 'i-0123456789abcdef0',
    });
    expect(worstCaseSize(stack, arn)).toBe(
      JSON.stringify(
        `arn:${'x'.repeat(10)}:ec2:${'x'.repeat(16)}:${'x'.repeat(12)}:instance/i-0123456789abcdef0`,
      ).length,
    );
  });
});
