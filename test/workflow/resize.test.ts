import { beforeAll, describe, expect, it } from 'vitest';
import { IncorrectInstanceStateError, InsufficientCapacityError } from '../../shared/aws/errors.ts';
import type { Role } from '../../shared/domain/types.ts';
import { LeaseHeldError, ThrottledError } from '../../shared/errors.ts';
import {
  MemberCarriesTrafficError,
  RESIZE_ROLLED_BACK,
  SoakFailedError,
} from '../../shared/resize/errors.ts';
import { chainPrefix, chainState, RESIZE_STATES } from '../../shared/resize/states.ts';
import { type StateHookContext, synthesizeResizeStateMachine } from '../../sim/resize.ts';
import { ACCOUNT_ID } from '../../sim/world-model.ts';
import {
  exampleConfig,
  NEW_TYPE,
  OLD_TYPE,
  onlyExecution,
  PAIR,
  type ResizeRun,
  routesOnStoppedMembers,
  runResizeScenario,
  statesEntered,
  stepErrors,
  stepFailures,
} from './harness.ts';

/**
 * The resize workflow end to end: the state machine definition CDK synthesizes for the product's stack, run by
 * aws-local-stepfunctions with every Task running the real step Lambda against the simulated account, while the
 * real controller runs on its schedule. Waits and retry pauses elapse on the virtual clock, so instances really
 * stop, boot and pass their status checks in between.
 */

const finalPair = (run: ResizeRun) => run.output.final.pairs[PAIR];
const types = (run: ResizeRun) => ({
  primary: finalPair(run)?.members.primary.instanceType,
  standby: finalPair(run)?.members.standby.instanceType,
});

/** Every stop the workflow made found the member without a single managed route. */
const neverStoppedTheCarrier = (run: ResizeRun, exclude: readonly { target: string; t: number }[] = []) =>
  routesOnStoppedMembers(run)
    .filter((stop) => !exclude.some((e) => e.target === stop.target && Math.abs(e.t - stop.t) < 0.5))
    .every((stop) => stop.routes === 0);

describe('the resize workflow in the simulated account', () => {
  describe('with the defaults (fail back, 2-minute soak)', () => {
    const environment = { region: 'eu-west-1', account: ACCOUNT_ID };
    const synthesized = () => synthesizeResizeStateMachine(exampleConfig(), environment).definition;
    let definitionBefore: ReturnType<typeof synthesized>;
    let run: ResizeRun;
    beforeAll(async () => {
      definitionBefore = structuredClone(synthesized());
      run = await runResizeScenario();
    });

    it('resizes both members and fails back to the primary without a moment of traffic on a member that is not running', () => {
      const execution = onlyExecution(run);
      expect(execution.status).toBe('SUCCEEDED');
      expect(types(run)).toEqual({ primary: NEW_TYPE, standby: NEW_TYPE });
      expect(finalPair(run)?.active).toBe('primary');
      expect(run.figures.secondsOnNonRunningMember).toBe(0);
      expect(neverStoppedTheCarrier(run)).toBe(true);
      expect(run.lease).toBeUndefined();
      expect(run.notifications.map((n) => n.subject)).toEqual([
        `vpn-failover: resize of pair ${PAIR} to ${NEW_TYPE} succeeded`,
      ]);
      // The controller's alarm records (a member stopped for its resize) come between these.
      expect(run.history.flatMap((h) => h.record.event ?? []).filter((e) => e !== 'alarm')).toEqual([
        'resize-started',
        'resize-traffic',
        'resize-traffic',
        'resize-finished',
      ]);
      // The figures the issue's closing note reports (npx vitest run test/workflow/resize.test.ts prints them).
      const { totalSeconds, switchovers, moveSteps, secondsOnNonRunningMember } = run.figures;
      console.info(
        [
          `simulated happy path: total ${totalSeconds}s`,
          `switchover (decision to last route moved): ${switchovers.map((s) => `to ${s.to} ${s.seconds}s`).join(', ')}`,
          `traffic steps: ${moveSteps.map((s) => `${s.stage} ${s.seconds}s`).join(', ')}`,
          `${secondsOnNonRunningMember}s with any route on a non-running member`,
        ].join('; '),
      );
    });

    /**
     * The simulator synthesizes the resize state machine once per configuration and hands the same definition to
     * every run; the local Step Functions engine rewrites the definition it is given, so each run must get its
     * own copy, or the next run (and any comparison with the template) sees a definition `cdk synth` never wrote.
     */
    it('leaves the state machine definition the simulator synthesized unchanged for the next run', () => {
      expect(run.executions).toHaveLength(1);
      expect(synthesized()).toEqual(definitionBefore);
    });
  });

  it('reverts the standby and leaves traffic untouched when the new type has no capacity', async () => {
    // Prepare: the standby's next start fails with InsufficientInstanceCapacity.
    const run = await runResizeScenario({
      faults: [{ at: 10, target: { pair: PAIR, role: 'standby' }, fault: 'insufficient-capacity' }],
    });

    // Assess
    const execution = onlyExecution(run);
    expect(execution.status).toBe('FAILED');
    expect(execution.error).toBe(RESIZE_ROLLED_BACK);
    expect(stepErrors(execution)).toEqual([InsufficientCapacityError.NAME]);
    expect(statesEntered(execution)).toContain(chainState(chainPrefix('Revert', 'first'), 'start'));
    expect(types(run)).toEqual({ primary: OLD_TYPE, standby: OLD_TYPE });
    expect(run.output.events.filter((e) => e.type === 'route-change')).toEqual([]);
    expect(finalPair(run)?.members.standby.state).toBe('running');
    expect(run.lease).toBeUndefined();
    expect(run.notifications[0]?.message).toContain('rolled back after InsufficientCapacityError');
  });

  it('rolls back to the untouched member when the resized member turns unhealthy during the soak', async () => {
    // Prepare: the VPN daemon fails on the new size once it carries traffic, and works again on the old size.
    let injected = false;
    const run = await runResizeScenario({
      onState: (state, { account, roles }) => {
        if (state !== RESIZE_STATES.soakWait || injected || roles.first === undefined) return;
        injected = true;
        const member = account.world.member(PAIR, roles.first);
        account.world.applyFault(member, 'daemon-down');
        account.world.on((event) => {
          if (event.kind === 'instance-type' && event.instanceId === member.id && event.to === OLD_TYPE) {
            account.world.applyFault(member, 'daemon-up');
          }
        });
      },
    });

    // Assess
    const execution = onlyExecution(run);
    expect(execution.error).toBe(RESIZE_ROLLED_BACK);
    expect(stepErrors(execution)).toEqual([SoakFailedError.NAME]);
    expect(statesEntered(execution)).toContain(RESIZE_STATES.rollback);
    expect(run.figures.switchovers.map((s) => s.to)).toEqual(['standby', 'primary']);
    expect(finalPair(run)?.active).toBe('primary');
    expect(types(run)).toEqual({ primary: OLD_TYPE, standby: OLD_TYPE });
    expect(run.figures.secondsOnNonRunningMember).toBe(0);
    expect(neverStoppedTheCarrier(run)).toBe(true);
    expect(run.lease).toBeUndefined();
  });

  it('ends with traffic on a healthy, resized pair when the active member fails mid-workflow', async () => {
    // Prepare: the primary (carrying traffic) stops while the standby is being resized.
    const injectedStops: { target: string; t: number }[] = [];
    const run = await runResizeScenario({
      onState: (state, { account }) => {
        if (
          state !== chainState(chainPrefix('Resize', 'first'), 'wait until healthy') ||
          injectedStops.length > 0
        )
          return;
        injectedStops.push({ target: `${PAIR}/primary`, t: Math.round(account.clock.elapsed() / 100) / 10 });
        account.world.applyFault(account.world.member(PAIR, 'primary'), 'stop');
      },
    });

    // Assess: the workflow fails over to the resized standby as soon as it is healthy, then resizes and
    // restarts the failed primary and fails back to it.
    const execution = onlyExecution(run);
    expect(execution.status).toBe('SUCCEEDED');
    expect(types(run)).toEqual({ primary: NEW_TYPE, standby: NEW_TYPE });
    expect(finalPair(run)?.active).toBe('primary');
    expect(neverStoppedTheCarrier(run, injectedStops)).toBe(true);
    expect(run.lease).toBeUndefined();
    // The controller saw the primary down but did not move traffic to the standby under maintenance.
    expect(run.output.events.some((e) => e.type === 'alarm' && e.alarm === 'maintenance-lease')).toBe(true);
    expect(run.output.events.filter((e) => e.type === 'failover').every((e) => e.trigger === 'manual')).toBe(
      true,
    );
    // The outage is the fault's: it ends when the workflow moves traffic to the resized standby.
    const failover = run.output.events.find((e) => e.type === 'failover');
    expect(failover).toMatchObject({ to: 'standby' });
    expect(run.figures.secondsOnNonRunningMember).toBeLessThan(
      (failover?.t ?? 0) - (injectedStops[0]?.t ?? 0) + 1,
    );
  });

  it('refuses a second resize of the same pair with LeaseHeldError before stopping anything', async () => {
    // Act: a second resize 30 s after the first.
    const run = await runResizeScenario({ commands: [{ at: 60 }, { at: 90, instanceType: 'c6in.2xlarge' }] });

    // Assess
    const [first, second] = run.executions;
    expect(first?.status).toBe('SUCCEEDED');
    expect(second?.status).toBe('FAILED');
    expect(second?.error).toBe(LeaseHeldError.NAME);
    expect(second?.cause).toContain(`held by ${first?.name}`);
    expect(statesEntered(second as NonNullable<typeof second>)).not.toContain(
      chainState(chainPrefix('Resize', 'first'), 'stop'),
    );
    expect(types(run)).toEqual({ primary: NEW_TYPE, standby: NEW_TYPE });
    expect(run.notifications.map((n) => n.subject)).toEqual([
      `vpn-failover: resize of pair ${PAIR} to c6in.2xlarge refused`,
      `vpn-failover: resize of pair ${PAIR} to ${NEW_TYPE} succeeded`,
    ]);
  });

  it('retries throttled stop and start calls with backoff and completes', async () => {
    // Prepare: every EC2 call naming the member is throttled for 20 s when its stop, and later its start, begins.
    const throttle =
      (state: string, role: Role) =>
      (current: string, { account }: StateHookContext) => {
        if (current !== state) return;
        const member = account.world.member(PAIR, role);
        const now = account.clock.now();
        account.throttle.addFault({
          rate: 1,
          from: now,
          until: now + 20_000,
          ids: [member.id, ...member.enis],
        });
      };
    const throttleStop = throttle(chainState(chainPrefix('Resize', 'first'), 'stop'), 'standby');
    const throttleStart = throttle(chainState(chainPrefix('Resize', 'second'), 'start'), 'primary');
    const run = await runResizeScenario({
      onState: (state, context) => {
        throttleStop(state, context);
        throttleStart(state, context);
      },
    });

    // Assess
    const execution = onlyExecution(run);
    expect(execution.status).toBe('SUCCEEDED');
    const throttledIn = stepFailures(execution)
      .filter((f) => f.error === ThrottledError.NAME)
      .map((f) => f.state);
    expect(throttledIn).toContain(chainState(chainPrefix('Resize', 'first'), 'stop'));
    expect(throttledIn).toContain(chainState(chainPrefix('Resize', 'second'), 'start'));
    expect(stepFailures(execution).every((f) => f.error === ThrottledError.NAME)).toBe(true);
    expect(types(run)).toEqual({ primary: NEW_TYPE, standby: NEW_TYPE });
  });

  it('leaves traffic on the member resized first when asked not to fail back', async () => {
    const run = await runResizeScenario({ request: { failback: false, soak: '1m' } });

    expect(onlyExecution(run).status).toBe('SUCCEEDED');
    expect(finalPair(run)?.active).toBe('standby');
    expect(types(run)).toEqual({ primary: NEW_TYPE, standby: NEW_TYPE });
  });

  it('never stops a member that carries traffic, even when asked to', async () => {
    // Prepare: right before the second member's stop, move traffic back onto it behind the workflow's back.
    let moved = false;
    const run = await runResizeScenario({
      onState: (state, { account }) => {
        if (state !== chainState(chainPrefix('Resize', 'second'), 'stop') || moved) return;
        moved = true;
        const primary = account.world.member(PAIR, 'primary');
        for (const table of account.world.routeTables.values()) {
          for (const route of table.routes.values()) {
            if (route.target.kind === 'eni' && route.origin === 'CreateRoute') {
              account.world.writeRoute(table, route, route.destination, route.destinationKind, {
                kind: 'eni',
                eni: primary.routeTargetEni,
              });
              // Reads show the new target at once (no read-after-write lag), so the step sees what is true.
              delete route.stale;
            }
          }
        }
      },
    });

    // Assess: the stop step refused, the primary kept running with the traffic, and the workflow ended failed.
    const execution = onlyExecution(run);
    expect(stepErrors(execution)).toContain(MemberCarriesTrafficError.NAME);
    expect(execution.status).toBe('FAILED');
    expect(finalPair(run)?.members.primary).toEqual({ state: 'running', instanceType: OLD_TYPE });
    expect(neverStoppedTheCarrier(run)).toBe(true);
    expect(stepErrors(execution)).not.toContain(IncorrectInstanceStateError.NAME);
    expect(run.lease).toBeUndefined();
  });
});
