import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { RESIZE_ERROR_NAMES, RESIZE_STEP_ALIAS } from '../../infra/resize-workflow.ts';
import { VpnFailoverStack } from '../../infra/stack.ts';
import { ThrottledError } from '../../shared/errors.ts';
import { HEALTHY_POLL, SOAK_POLL_SECONDS, STOP_POLL } from '../../shared/resize/policy.ts';
import { synthesizeResizeStateMachine } from '../../sim/resize.ts';
import { type SynthesizedStateMachine, stateMachinesOf } from '../../sim/stepfunctions.ts';
import { ACCOUNT_ID } from '../../sim/world-model.ts';
import { actionsOf, policyStatements, resourcesOf, SKIP_BUNDLING, testApp } from '../infra/test-app.ts';
import { exampleConfig } from './harness.ts';

/**
 * The resize state machine as `cdk synth` writes it into the template: the definition the simulator runs is
 * this one, and its error handling is what the issue asks for.
 */

interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Seconds?: number;
  readonly Retry?: readonly { readonly ErrorEquals: readonly string[] }[];
  readonly Catch?: readonly { readonly ErrorEquals: readonly string[]; readonly Next: string }[];
}

const environment = { region: 'eu-west-1', account: ACCOUNT_ID };
let template: Template;
let machine: SynthesizedStateMachine;
let states: [string, AslState][];

beforeAll(() => {
  const app = testApp(SKIP_BUNDLING);
  const stack = new VpnFailoverStack(app, 'VpnFailover', { config: exampleConfig() });
  template = Template.fromStack(stack);
  const [found, ...others] = stateMachinesOf(template.toJSON(), environment);
  if (!found || others.length > 0) throw new Error('expected exactly one state machine in the template');
  machine = found;
  states = Object.entries(machine.definition.States as Record<string, AslState>);
});

describe('the synthesized resize state machine', () => {
  it('is the definition the simulator executes', () => {
    expect(synthesizeResizeStateMachine(exampleConfig(), environment).definition).toEqual(machine.definition);
  });

  it('is a Standard state machine', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineType: 'STANDARD' });
  });

  it('invokes the step Lambda through its alias, so its role names no wildcard ARN and nothing on `*`', () => {
    const lambdaResources = states.flatMap(([, s]) => (s.Resource?.includes(':lambda:') ? [s.Resource] : []));
    expect(new Set(lambdaResources.map((r) => r.split(':').slice(7).join(':')))).toEqual(
      new Set([RESIZE_STEP_ALIAS]),
    );
    const machineRole = policyStatements(template).filter((s) => s.policy.includes('ResizeStateMachineRole'));
    expect(machineRole.length).toBeGreaterThan(0);
    for (const statement of machineRole) {
      for (const resource of resourcesOf(statement)) expect(resource).not.toMatch(/\*/);
    }
  });

  it('calls EC2 only through the resize Lambda, never through a direct EC2 integration', () => {
    const resources = states.flatMap(([, s]) => (s.Type === 'Task' ? [s.Resource ?? ''] : []));
    expect(resources.filter((r) => /aws-sdk:ec2/.test(r))).toEqual([]);
    expect(new Set(resources.map((r) => (r.includes(':lambda:') ? 'lambda' : r)))).toEqual(
      new Set(['lambda', 'arn:aws:states:::sns:publish']),
    );
  });

  it('retries ThrottledError with backoff on every Lambda step', () => {
    const lambdaSteps = states.filter(([, s]) => s.Type === 'Task' && s.Resource?.includes(':lambda:'));
    expect(lambdaSteps.length).toBeGreaterThan(20);
    for (const [, state] of lambdaSteps) {
      expect(state.Retry?.some((r) => r.ErrorEquals.includes(ThrottledError.NAME))).toBe(true);
    }
  });

  it('catches every Lambda step failure into a compensation path', () => {
    for (const [name, state] of states.filter(([, s]) => s.Type === 'Task')) {
      expect(
        state.Catch?.map((c) => c.ErrorEquals),
        name,
      ).toEqual([['States.ALL']]);
    }
  });

  it('matches only error names the steps raise (no inline strings, no generic Ec2.Ec2Exception)', () => {
    const named = states.flatMap(([, s]) =>
      [...(s.Retry ?? []), ...(s.Catch ?? [])].flatMap((r) => r.ErrorEquals),
    );
    const ours = named.filter((e) => e !== 'States.ALL' && !e.startsWith('Lambda.'));
    expect(ours.length).toBeGreaterThan(0);
    for (const error of ours) expect(RESIZE_ERROR_NAMES).toContain(error);
  });

  it('waits with Wait states whose periods come from the shared polling policy', () => {
    const waits = new Set(states.flatMap(([, s]) => (s.Type === 'Wait' ? [s.Seconds] : [])));
    expect(waits).toEqual(
      new Set([STOP_POLL.intervalSeconds, HEALTHY_POLL.intervalSeconds, SOAK_POLL_SECONDS]),
    );
  });

  it('lets the step Lambda stop, start and retype only the pairs members', () => {
    const resize = policyStatements(template).filter((s) =>
      actionsOf(s).some((a) =>
        ['ec2:StopInstances', 'ec2:StartInstances', 'ec2:ModifyInstanceAttribute'].includes(a),
      ),
    );
    // Stop/start and retype are separate statements: ModifyInstanceAttribute carries a type-only condition.
    expect(resize).toHaveLength(2);
    const pair = exampleConfig().pairs[0];
    for (const statement of resize) {
      expect(resourcesOf(statement).sort()).toEqual(
        [pair?.primary.instanceId, pair?.standby.instanceId]
          .map((id) => `arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:instance/${id}`)
          .sort(),
      );
    }
  });
});
