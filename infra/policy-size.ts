import { Stack } from 'aws-cdk-lib';
import {
  CfnManagedPolicy,
  CfnPolicy,
  ManagedPolicy,
  Policy,
  PolicyStatement,
  type Role,
} from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/**
 * IAM's size quotas, as IAM counts them (characters of the policy JSON, whitespace not counted), from
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html:
 * - all inline policies of one role together (CDK's `Policy` and default policy are inline): 10,240;
 * - one customer-managed policy: 6,144;
 * - customer-managed policies attached to one role: 10 by default (a quota increase allows 20).
 */
export const ROLE_INLINE_LIMIT = 10_240;
export const MANAGED_POLICY_LIMIT = 6_144;
export const MANAGED_POLICIES_PER_ROLE = 10;

/**
 * What an unresolved value in a policy becomes at deploy time, at its longest. The stack is environment-agnostic,
 * so the partition, Region and account are CloudFormation pseudo parameters: the longest partition is
 * `aws-us-gov` (10), Region codes are at most 15 characters today (`us-isof-south-1`; 16 leaves room), account
 * ids are 12 digits. Any other reference (a name CloudFormation generates, a GetAtt ARN) is taken as 512.
 */
export const WORST_CASE_LENGTH = {
  'AWS::Partition': 10,
  'AWS::Region': 16,
  'AWS::AccountId': 12,
  'AWS::URLSuffix': 20,
  other: 512,
} as const;

/** A resolved CloudFormation value rendered as the longest string it can become at deploy time. */
function worstCase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(worstCase);
  if (!value || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  if ('Ref' in object) {
    const length = WORST_CASE_LENGTH[object.Ref as keyof typeof WORST_CASE_LENGTH] ?? WORST_CASE_LENGTH.other;
    return 'x'.repeat(length);
  }
  if ('Fn::Join' in object) {
    const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => String(worstCase(part))).join(separator);
  }
  if (Object.keys(object).some((key) => key.startsWith('Fn::'))) return 'x'.repeat(WORST_CASE_LENGTH.other);
  return Object.fromEntries(Object.entries(object).map(([key, inner]) => [key, worstCase(inner)]));
}

/** The size IAM will count for a (possibly unresolved) policy document or fragment, at its worst case. */
export function worstCaseSize(scope: IConstruct, value: unknown): number {
  return JSON.stringify(worstCase(Stack.of(scope).resolve(value))).length;
}

/** `{"Version":"2012-10-17","Statement":[]}`: a document's size without its statements. */
const DOCUMENT_OVERHEAD = JSON.stringify({ Version: '2012-10-17', Statement: [] }).length;

/**
 * Statements with the same effect and conditions, regrouped so each resource is listed once: every resource
 * goes into the one statement whose actions are exactly the actions granted on it. IAM allows an action on a
 * resource if some statement names both, so the regrouped statements allow exactly what the originals did.
 */
export function compactStatements(
  scope: IConstruct,
  statements: readonly PolicyStatement[],
): PolicyStatement[] {
  const groups = new Map<string, { template: PolicyStatement; actionsOf: Map<string, Set<string>> }>();
  for (const statement of statements) {
    const key = JSON.stringify([statement.effect, Stack.of(scope).resolve(statement.conditions)]);
    const group = groups.get(key) ?? { template: statement, actionsOf: new Map() };
    groups.set(key, group);
    for (const resource of statement.resources) {
      const actions = group.actionsOf.get(resource) ?? new Set<string>();
      for (const action of statement.actions) actions.add(action);
      group.actionsOf.set(resource, actions);
    }
  }
  const compacted: PolicyStatement[] = [];
  for (const { template, actionsOf } of groups.values()) {
    const byActions = new Map<string, { actions: string[]; resources: string[] }>();
    for (const [resource, actions] of actionsOf) {
      const sorted = [...actions].sort();
      const entry = byActions.get(sorted.join(',')) ?? { actions: sorted, resources: [] };
      entry.resources.push(resource);
      byActions.set(sorted.join(','), entry);
    }
    for (const { actions, resources } of byActions.values()) {
      compacted.push(
        new PolicyStatement({ effect: template.effect, actions, resources, conditions: template.conditions }),
      );
    }
  }
  return compacted;
}

/**
 * Pack statements into policies: the first holds at most `firstLimit` characters (worst case), the others
 * MANAGED_POLICY_LIMIT each; a statement's resources are split over several statements where one policy cannot
 * hold them all. Returns the policies' statement lists; each resource keeps its actions and conditions.
 */
export function packStatements(
  scope: IConstruct,
  statements: readonly PolicyStatement[],
  firstLimit: number = MANAGED_POLICY_LIMIT,
): PolicyStatement[][] {
  const policies: PolicyStatement[][] = [];
  let current: PolicyStatement[] = [];
  let size = DOCUMENT_OVERHEAD;
  let limit = firstLimit;
  const close = () => {
    // An empty first policy (no room inline) still counts, so the next one is a managed policy.
    policies.push(current);
    current = [];
    size = DOCUMENT_OVERHEAD;
    limit = MANAGED_POLICY_LIMIT;
  };
  for (const statement of statements) {
    const part = (resources: string[]) =>
      new PolicyStatement({
        effect: statement.effect,
        actions: statement.actions,
        resources,
        conditions: statement.conditions,
      });
    // The statement without resources, plus a comma before it; each resource adds its length and a comma.
    const overhead = worstCaseSize(scope, part([]).toStatementJson()) + '"Resource":[],'.length + 1;
    let resources: string[] = [];
    let partSize = overhead;
    for (const resource of statement.resources) {
      const length = worstCaseSize(scope, resource) + 1;
      if (size + partSize + length > limit) {
        if (resources.length > 0) current.push(part(resources));
        close();
        resources = [];
        partSize = overhead;
      }
      resources.push(resource);
      partSize += length;
    }
    current.push(part(resources));
    size += partSize;
  }
  policies.push(current);
  return policies;
}

/** The construct id prefix of the policies that hold per-pair statements. */
const PAIR_SCOPED = 'PairScoped';

/**
 * Room kept free in a role's inline policies for statements granted after the per-pair ones (CDK and callers add
 * to the role's default policy).
 */
export const INLINE_RESERVE = 1_024;

/**
 * Grant per-pair statements to a role, compacted and packed: first into an inline policy, in the room IAM's
 * per-role inline quota leaves beside the role's other inline policies (less INLINE_RESERVE), then into
 * customer-managed policies.
 */
export function attachPacked(role: Role, statements: readonly PolicyStatement[]): void {
  const inlineRoom = ROLE_INLINE_LIMIT - rolePolicySize(role).inline - INLINE_RESERVE;
  const [inline = [], ...managed] = packStatements(role, compactStatements(role, statements), inlineRoom);
  const taken = role.node.children.filter((c) => c.node.id.startsWith(PAIR_SCOPED)).length;
  if (inline.length > 0) {
    new Policy(role, `${PAIR_SCOPED}${taken + 1}`, { statements: inline, roles: [role] });
  }
  managed
    .filter((policy) => policy.length > 0)
    .forEach((policy, index) => {
      new ManagedPolicy(role, `${PAIR_SCOPED}${taken + index + 2}`, {
        description: `Per-pair permissions of ${role.node.path}`,
        statements: policy,
        roles: [role],
      });
    });
}

/** What one role's policies come to, at their worst case. */
export interface RolePolicySize {
  readonly role: string;
  /** all inline policies together */
  readonly inline: number;
  /** each customer-managed policy */
  readonly managed: readonly number[];
  /** the part of `inline` and `managed` that holds per-pair statements */
  readonly perPair: number;
}

/** The worst-case sizes of the inline and customer-managed policies attached to `role`, as synthesized. */
export function rolePolicySize(role: Role): RolePolicySize {
  const stack = Stack.of(role);
  const roleRef = JSON.stringify(stack.resolve(role.roleName));
  const attached = (roles: unknown) => JSON.stringify(stack.resolve(roles) ?? []).includes(roleRef);
  let inline = 0;
  let perPair = 0;
  const managed: number[] = [];
  for (const construct of stack.node.findAll()) {
    const isPolicy = construct instanceof CfnPolicy || construct instanceof CfnManagedPolicy;
    if (!isPolicy || !attached(construct.roles)) continue;
    const size = worstCaseSize(role, construct.policyDocument);
    if (construct instanceof CfnPolicy) inline += size;
    else managed.push(size);
    if (construct.node.scope?.node.id.startsWith(PAIR_SCOPED)) perPair += size;
  }
  return { role: role.node.path, inline, managed, perPair };
}

/** How a role's policies exceed IAM's quotas, one sentence per quota; empty when they fit. */
export function rolePolicyExcess(size: RolePolicySize): string[] {
  const excess: string[] = [];
  if (size.inline > ROLE_INLINE_LIMIT) {
    excess.push(
      `its inline policies come to ${size.inline} characters, above IAM's ${ROLE_INLINE_LIMIT} per role`,
    );
  }
  const largest = Math.max(0, ...size.managed);
  if (largest > MANAGED_POLICY_LIMIT) {
    excess.push(
      `a managed policy comes to ${largest} characters, above IAM's ${MANAGED_POLICY_LIMIT} per policy`,
    );
  }
  if (size.managed.length > MANAGED_POLICIES_PER_ROLE) {
    excess.push(
      `it needs ${size.managed.length} managed policies of at most ${MANAGED_POLICY_LIMIT} characters (${size.managed.reduce((a, b) => a + b, 0)} characters in all), above IAM's default of ${MANAGED_POLICIES_PER_ROLE} per role (${MANAGED_POLICIES_PER_ROLE * MANAGED_POLICY_LIMIT} characters)`,
    );
  }
  return excess;
}

/** Room a packed policy may leave unused: the resource that did not fit and a statement begun in the next. */
const PACKING_SLACK = 400;

/**
 * How many pairs like the configured ones fit a role: its per-pair statements grow in proportion to the pairs,
 * into the inline room the other inline policies leave and the managed policies IAM allows.
 */
export function pairsThatFit(size: RolePolicySize, pairs: number): number {
  const fixedInline = size.inline - (size.perPair - size.managed.reduce((a, b) => a + b, 0));
  const usable =
    ROLE_INLINE_LIMIT -
    fixedInline -
    INLINE_RESERVE -
    PACKING_SLACK +
    MANAGED_POLICIES_PER_ROLE * (MANAGED_POLICY_LIMIT - PACKING_SLACK);
  return Math.max(0, Math.min(pairs - 1, Math.floor((pairs * usable) / size.perPair)));
}
