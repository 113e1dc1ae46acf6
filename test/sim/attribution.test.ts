import { describe, expect, it } from 'vitest';
import type { MoveTrigger } from '../../shared/domain/plan.ts';
import type { SimEvent, SimulateOutput } from '../../sim/output.ts';
import { reportOf } from '../../sim/timeline.ts';

const fault = (t: number, target: string, kind: string, note?: string): SimEvent =>
  ({ t, type: 'fault', target, fault: kind, ...(note === undefined ? {} : { note }) }) as SimEvent;

const command = (t: number, pair: string, what: 'failover' | 'resize', to?: string): SimEvent =>
  ({
    t,
    type: 'command',
    pair,
    command: what,
    ...(what === 'failover' ? { to } : { instanceType: to }),
  }) as SimEvent;

const move = (t: number, pair: string, from: 'primary' | 'standby', trigger: MoveTrigger): SimEvent => {
  const to = from === 'primary' ? 'standby' : 'primary';
  return {
    t,
    type: 'failover',
    pair,
    from,
    to,
    kind: to === 'standby' ? 'failover' : 'failback',
    trigger,
    reason: 'why',
  };
};

/** The cause the summary gives the last move of an event log. */
const causeOfLastMove = (events: readonly SimEvent[]): string | undefined => {
  const output: SimulateOutput = {
    scenario: 'attribution',
    seed: 1,
    duration: 3600,
    events,
    final: { pairs: {} },
    stats: { invocations: 0, apiCalls: {}, throttled: {} },
  };
  const last = reportOf(output).moves.at(-1);
  return last?.cause === undefined ? undefined : `${last.cause} at ${last.causeAt}`;
};

describe('the summary attributes each move to the fault that caused it', () => {
  it.each<[string, SimEvent[], string | undefined]>([
    [
      'a tunnel-loss failover, not a later fault on the standby',
      [
        fault(60, 'branch-a/primary', 'tunnel-down'),
        fault(90, 'branch-a/standby', 'daemon-down'),
        move(150, 'branch-a', 'primary', 'soft-failure'),
      ],
      'branch-a/primary tunnel-down at 60',
    ],
    [
      'a failover, not a later fault on another pair',
      [
        fault(60, 'branch-a/primary', 'daemon-down'),
        fault(100, 'branch-b/primary', 'stop'),
        move(130, 'branch-a', 'primary', 'soft-failure'),
      ],
      'branch-a/primary daemon-down at 60',
    ],
    [
      'a failover, to the nearest preceding fault on the member traffic left',
      [
        fault(60, 'branch-a/primary', 'daemon-down'),
        fault(100, 'branch-a/primary', 'stop'),
        move(105, 'branch-a', 'primary', 'hard-loss'),
      ],
      'branch-a/primary stop at 100',
    ],
    [
      'a failover, to the dead daemon and not to the member agent stopping after it (its silence is never a cause)',
      [
        fault(60, 'branch-a/primary', 'daemon-down'),
        fault(61, 'branch-a/primary', 'agent-stop'),
        move(120, 'branch-a', 'primary', 'soft-failure'),
      ],
      'branch-a/primary daemon-down at 60',
    ],
    [
      'a failover, to a zone-wide loss of every primary',
      [fault(60, '*/primary', 'stop'), move(65, 'branch-a', 'primary', 'hard-loss')],
      '*/primary stop at 60',
    ],
    [
      'a failover, not to a zone-wide loss of every standby',
      [
        fault(60, 'branch-a/primary', 'terminate'),
        fault(62, '*/standby', 'daemon-down'),
        move(65, 'branch-a', 'primary', 'hard-loss'),
      ],
      'branch-a/primary terminate at 60',
    ],
    [
      'a failover, not to a fault that had no effect or to throttled calls',
      [
        fault(60, 'branch-a/primary', 'os-hang'),
        fault(70, 'branch-a/primary', 'stop', 'already stopped'),
        fault(80, 'branch-a/primary', 'api-throttling'),
        move(120, 'branch-a', 'primary', 'soft-failure'),
      ],
      'branch-a/primary os-hang at 60',
    ],
    [
      'an automatic failback, to the recovery of the primary, not the fault that caused the failover',
      [
        fault(60, 'branch-a/primary', 'daemon-down'),
        move(90, 'branch-a', 'primary', 'soft-failure'),
        fault(300, 'branch-a/primary', 'daemon-up'),
        fault(320, 'branch-a/standby', 'daemon-down'),
        move(480, 'branch-a', 'standby', 'automatic-failback'),
      ],
      'branch-a/primary daemon-up at 300',
    ],
    [
      'a failback forced by the loss of the standby, to that loss, not to the earlier recovery of the primary',
      [
        fault(60, 'branch-a/primary', 'daemon-down'),
        move(90, 'branch-a', 'primary', 'soft-failure'),
        fault(300, 'branch-a/primary', 'daemon-up'),
        fault(900, 'branch-a/standby', 'terminate'),
        move(905, 'branch-a', 'standby', 'hard-loss'),
      ],
      'branch-a/standby terminate at 900',
    ],
    [
      'an operator failback, to the command on that pair',
      [
        fault(60, 'branch-a/primary', 'daemon-down'),
        move(90, 'branch-a', 'primary', 'soft-failure'),
        command(550, 'branch-a', 'failover', 'primary'),
        command(580, 'branch-b', 'failover', 'standby'),
        fault(590, 'branch-a/primary', 'daemon-down'),
        move(600, 'branch-a', 'standby', 'manual'),
      ],
      'operator failover to primary at 550',
    ],
    [
      'both moves of a resize, to the resize command',
      [
        command(60, 'branch-a', 'resize', 'c6in.xlarge'),
        move(200, 'branch-a', 'primary', 'manual'),
        move(400, 'branch-a', 'standby', 'manual'),
      ],
      'operator resize to c6in.xlarge at 60',
    ],
    [
      'no cause rather than a wrong one when no fault hit the member traffic left',
      [fault(60, 'branch-a/standby', 'daemon-down'), move(120, 'branch-a', 'primary', 'soft-failure')],
      undefined,
    ],
  ])('%s', (_, events, expected) => {
    expect(causeOfLastMove(events)).toBe(expected);
  });
});
