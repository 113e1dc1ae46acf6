import { describe, expect, it } from 'vitest';
import { type DecideInput, decide } from '../../shared/decide/decide.ts';
import { RECHECK_SPACING_MS, recheckAfterMs } from '../../shared/decide/recheck.ts';
import { AGENT_REPORT_FRESH_MS, AGENT_SILENT_AFTER_MS } from '../../shared/domain/agent.ts';
import type { Decision } from '../../shared/domain/plan.ts';
import type { Role } from '../../shared/domain/types.ts';
import {
  agentReport,
  INSTANCE,
  NOW,
  type PairInput,
  streaks,
  unhealthyReport,
  withAgent,
  withInstance,
  withMemory,
  withProbe,
  world,
} from './builders.ts';

/** Where the decision sends traffic: the move's target and trigger, or the plan kind when nothing moves. */
const outcome = (decision: Decision): string =>
  decision.plan.kind === 'failover' || decision.plan.kind === 'failback'
    ? `${decision.plan.kind} to ${decision.plan.to} (${decision.plan.trigger})`
    : decision.plan.kind;

/** Traffic on the primary, the pair with the agent on and `threshold` daemon observations to move. */
const base = (threshold = 2, pair: Partial<PairInput> = {}): DecideInput =>
  world({ pair: { unhealthyThreshold: threshold, ...pair } });

/** Decide `first`, then each of `rest` in turn, each starting from the memory the one before stored. */
function evolve(first: DecideInput, rest: readonly DecideInput[]): Decision[] {
  const decisions = [decide(first)];
  for (const input of rest) {
    decisions.push(decide({ ...input, memory: decisions.at(-1)?.memory ?? input.memory }));
  }
  return decisions;
}

describe("an agent's report counts as one observation of the daemon and the controller's probe as the other", () => {
  const rows: {
    readonly name: string;
    readonly input: DecideInput;
    readonly expected: string;
    readonly streak: number;
    readonly counted?: number;
  }[] = [
    {
      name: 'the primary reports its daemon down and the probe agrees, at threshold 2',
      input: withProbe(withAgent(base(2), { primary: unhealthyReport('primary') }), 'primary', 'failed'),
      expected: 'failover to standby (soft-failure)',
      streak: 2,
      counted: unhealthyReport('primary').since,
    },
    {
      name: 'the probe alone fails, with no report from the agent',
      input: withProbe(withAgent(base(2)), 'primary', 'failed'),
      expected: 'noop',
      streak: 1,
    },
    {
      name: 'the report alone: the probe passes (the streak resets)',
      input: withMemory(withAgent(base(2), { primary: unhealthyReport('primary') }), {
        unhealthyStreak: streaks({ primary: { daemon: 1 } }),
      }),
      expected: 'noop',
      streak: 0,
    },
    {
      name: 'the report with the probe unanswered (the streak holds)',
      input: withMemory(
        withProbe(withAgent(base(2), { primary: unhealthyReport('primary') }), 'primary', 'unknown'),
        { unhealthyStreak: streaks({ primary: { daemon: 1 } }) },
      ),
      expected: 'noop',
      streak: 1,
    },
    {
      name: "a report about the primary stored under the standby's key, read as the standby's",
      input: withProbe(
        withAgent(base(2), { standby: unhealthyReport('standby', { claimedInstanceId: INSTANCE.primary }) }),
        'primary',
        'failed',
      ),
      expected: 'noop',
      streak: 1,
    },
    {
      name: "a report stored under the primary's key that claims to be the standby",
      input: withProbe(
        withAgent(base(2), { primary: unhealthyReport('primary', { claimedInstanceId: INSTANCE.standby }) }),
        'primary',
        'failed',
      ),
      expected: 'noop',
      streak: 1,
    },
    {
      name: 'a stale report (sent longer ago than a live agent ever leaves it)',
      input: withProbe(
        withAgent(base(2), { primary: unhealthyReport('primary', { at: NOW - AGENT_REPORT_FRESH_MS - 1 }) }),
        'primary',
        'failed',
      ),
      expected: 'noop',
      streak: 1,
    },
    {
      name: 'a report already counted in an earlier evaluation',
      input: withMemory(
        withProbe(withAgent(base(3), { primary: unhealthyReport('primary') }), 'primary', 'failed'),
        {
          unhealthyStreak: streaks({ primary: { daemon: 1 } }),
          agentCounted: { primary: unhealthyReport('primary').since },
        },
      ),
      expected: 'noop',
      streak: 2,
      counted: unhealthyReport('primary').since,
    },
    {
      name: 'the pair has the agent turned off: its reports are ignored',
      input: withProbe(
        withAgent(base(2, { agent: { enabled: false } }), { primary: unhealthyReport('primary') }),
        'primary',
        'failed',
      ),
      expected: 'noop',
      streak: 1,
    },
  ];
  for (const row of rows) {
    it(`${row.name}: ${row.expected}, daemon streak ${row.streak}`, () => {
      const decision = decide(row.input);
      expect(outcome(decision)).toBe(row.expected);
      expect(decision.memory.unhealthyStreak.primary.daemon).toBe(row.streak);
      expect(decision.memory.agentCounted?.primary).toBe(row.counted);
    });
  }

  it('says in the move that the report and the probe made the two observations', () => {
    const decision = decide(
      withProbe(withAgent(base(2), { primary: unhealthyReport('primary') }), 'primary', 'failed'),
    );
    expect(decision.plan.reasons[0]).toBe(
      'primary daemon unhealthy x2 (agent report at 11:59:58.000Z + probe): strongswan probe failed: 0 IKE_SAs established',
    );
  });

  it('says why a report does not count: unbound, stale, or not confirmed by the probe', () => {
    const unbound = decide(
      withProbe(
        withAgent(base(2), { primary: unhealthyReport('primary', { claimedInstanceId: INSTANCE.standby }) }),
        'primary',
        'failed',
      ),
    );
    expect(unbound.plan.reasons).toContain(
      `primary agent report (unhealthy since 11:59:56.000Z) is not evidence: stored under ${INSTANCE.primary}'s key but claims to be ${INSTANCE.standby} (a member speaks only for itself)`,
    );
    const stale = decide(
      withAgent(base(2), { primary: unhealthyReport('primary', { at: NOW - AGENT_REPORT_FRESH_MS - 1 }) }),
    );
    expect(stale.plan.reasons).toContain(
      'primary agent report (unhealthy since 11:59:56.000Z) is stale: sent at 11:57:29.999Z, more than 2m30s ago: not counted',
    );
    const unconfirmable = decide(
      withAgent(base(2, { probe: { kind: 'none' } }), { primary: unhealthyReport('primary') }),
    );
    expect(unconfirmable.plan.reasons).toContain(
      'primary agent reports unhealthy since 11:59:56.000Z (unhealthy: daemon not responding), but the pair has no daemon probe to confirm it: not counted',
    );
    expect(unconfirmable.plan.kind).toBe('noop');
    const overruled = decide(withAgent(base(2), { primary: unhealthyReport('primary') }));
    expect(overruled.plan.reasons).toContain(
      "primary agent reports unhealthy since 11:59:56.000Z (unhealthy: daemon not responding), but the controller's probe passed: not counted",
    );
  });

  it('counts each report once: the same report in the next evaluation adds 1, a new unhealthy spell counts again', () => {
    const reported = withProbe(
      withAgent(base(5), { primary: unhealthyReport('primary') }),
      'primary',
      'failed',
    );
    const again = withProbe(
      withAgent(base(5), { primary: unhealthyReport('primary', { since: NOW + 1_000, at: NOW + 2_000 }) }),
      'primary',
      'failed',
    );
    const [first, second, third] = evolve(reported, [reported, again]);
    expect([first, second, third].map((d) => d?.memory.unhealthyStreak.primary.daemon)).toEqual([2, 3, 5]);
    expect(third?.memory.agentCounted).toEqual({ primary: NOW + 1_000 });
  });

  it('forgets the counted report once the member reports healthy again, so a steady pair stores nothing for it', () => {
    const counted = withMemory(withAgent(base(2)), { agentCounted: { primary: NOW - 60_000 } });
    expect(decide(counted).memory.agentCounted).toBeUndefined();
    // Beside the members' running-since (stored once, when they are first seen running), nothing.
    const { runningSince, ...steady } = decide(withAgent(base(2))).memory;
    expect(runningSince).toEqual({ primary: NOW, standby: NOW });
    expect(steady).toEqual(decide(base(2)).memory);
    const [first, second] = evolve(withAgent(base(2)), [{ ...withAgent(base(2)), now: NOW + 60_000 }]);
    expect(second?.memory).toEqual(first?.memory);
  });

  it('keeps the counted report while the agent table cannot be read', () => {
    const unreadable = withMemory(withAgent(base(2), { primary: 'unreadable' }), {
      agentCounted: { primary: NOW - 60_000 },
    });
    expect(decide(unreadable).memory.agentCounted).toEqual({ primary: NOW - 60_000 });
  });

  it('does not ask for a quick re-check when the report brought the streak to the threshold but the move is blocked', () => {
    const blocked = withProbe(
      withProbe(withAgent(base(2), { primary: unhealthyReport('primary') }), 'primary', 'failed'),
      'standby',
      'failed',
    );
    const decision = decide(blocked);
    expect(decision.plan.kind).toBe('alarm');
    expect(decision.memory.unhealthyStreak.primary.daemon).toBe(2);
    expect(recheckAfterMs(blocked.pair, decision)).toBeUndefined();
    // Short of the threshold with the report's help, the confirmation is still asked for.
    const short = withProbe(withAgent(base(3), { primary: unhealthyReport('primary') }), 'primary', 'failed');
    expect(recheckAfterMs(short.pair, decide(short))).toBe(RECHECK_SPACING_MS);
  });
});

describe('agent-silent: a running member whose agent has sent nothing for a while, never a move', () => {
  const silentOf = (decision: Decision): string[] =>
    decision.alarms.filter((a) => a.kind === 'agent-silent').map((a) => a.detail.split(' ')[0] as string);
  const old = (role: Role) => agentReport(role, { at: NOW - AGENT_SILENT_AFTER_MS - 1 });
  /** Both members seen running by the controller for `ms`. */
  const runningFor = (input: DecideInput, ms: number): DecideInput =>
    withMemory(input, { runningSince: { primary: NOW - ms, standby: NOW - ms } });
  const longRunning = (input: DecideInput): DecideInput => runningFor(input, 60 * 60_000);
  const rows: {
    readonly name: string;
    readonly input: DecideInput;
    readonly silent: readonly string[];
  }[] = [
    { name: 'both agents heartbeat', input: longRunning(withAgent(base())), silent: [] },
    {
      name: 'the standby has never reported',
      input: longRunning(withAgent(base(), { standby: 'none' })),
      silent: ['standby'],
    },
    {
      name: "the primary's last report is older than the silence limit",
      input: longRunning(withAgent(base(), { primary: old('primary') })),
      silent: ['primary'],
    },
    {
      name: 'a report just inside the silence limit',
      input: longRunning(
        withAgent(base(), { primary: agentReport('primary', { at: NOW - AGENT_SILENT_AFTER_MS }) }),
      ),
      silent: [],
    },
    {
      name: 'the standby is stopped and has not reported',
      input: longRunning(
        withInstance(withAgent(base(), { standby: 'none' }), 'standby', { state: 'stopped' }),
      ),
      silent: [],
    },
    {
      name: 'the agent table cannot be read',
      input: longRunning(withAgent(base(), { primary: 'unreadable', standby: 'unreadable' })),
      silent: [],
    },
    {
      name: 'the pair has the agent turned off',
      input: longRunning(
        withAgent(base(2, { agent: { enabled: false } }), { primary: 'none', standby: 'none' }),
      ),
      silent: [],
    },
    {
      name: 'a member started 2 minutes ago whose last report predates its stop (its agent is still booting)',
      input: runningFor(withAgent(base(), { primary: old('primary') }), 2 * 60_000),
      silent: [],
    },
    {
      name: 'a member running for 3 minutes whose agent has still not reported',
      input: runningFor(withAgent(base(), { primary: 'none' }), AGENT_SILENT_AFTER_MS),
      silent: ['primary'],
    },
    {
      name: 'a member seen running for the first time (a new deployment) with no report yet',
      input: withAgent(base(), { standby: 'none' }),
      silent: [],
    },
  ];
  for (const row of rows) {
    it(`${row.name}: ${row.silent.length === 0 ? 'no alarm' : `raised for ${row.silent.join(', ')}`}`, () => {
      const decision = decide(row.input);
      expect(silentOf(decision)).toEqual(row.silent);
      expect(decision.plan.kind).toBe('noop');
    });
  }

  it('remembers since when each member runs, and forgets a member that stops', () => {
    const first = decide(withAgent(base()));
    expect(first.memory.runningSince).toEqual({ primary: NOW, standby: NOW });
    const later = decide({
      ...withInstance(withAgent(base()), 'standby', { state: 'stopped' }),
      memory: first.memory,
      now: NOW + 60_000,
    });
    expect(later.memory.runningSince).toEqual({ primary: NOW });
  });

  it('says which member and since when', () => {
    const decision = decide(longRunning(withAgent(base(), { primary: old('primary') })));
    expect(decision.alarms).toContainEqual({
      kind: 'agent-silent',
      detail: `primary ${INSTANCE.primary} runs but its agent last reported at 2026-11-30T11:56:59.999Z (nothing for more than 3m): failures on it are detected at the probe's pace`,
    });
  });
});
