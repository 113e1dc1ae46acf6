import type { PairConfig } from '../config/schema.ts';
import { AGENT_REPORT_FRESH_MS, AGENT_SILENT_AFTER_MS, type AgentReport } from '../domain/agent.ts';
import type { Alarm } from '../domain/plan.ts';
import type { PairMemory, PairObservation, Role } from '../domain/types.ts';
import { ROLES } from '../domain/types.ts';
import { formatSeconds } from '../duration.ts';

/**
 * The member agent's reports as evidence. A member's report counts as ONE of the unhealthyThreshold
 * observations of its daemon signal, and the controller's own probe in the same evaluation as another: a
 * fresh, bound, unhealthy report not counted before, together with the probe's own unhealthy verdict, adds 2
 * to the daemon's unhealthy streak instead of 1. Each report's unhealthy state (its `since`) counts once. The
 * report alone never moves traffic: with the probe healthy the streak resets as always, with the probe
 * unanswered it holds. A report is bound when the key it is stored under (the sender, which IAM lets write
 * only its own key) and the instance it claims to be both name the member; an unbound report is never
 * evidence. Agent silence is never evidence either: it raises agent-silent, nothing else.
 */

/** What the agent reports say about each member in this evaluation. */
export interface AgentView {
  /** the report that may count as an observation this evaluation, per member (if the probe agrees) */
  readonly countable: Readonly<Partial<Record<Role, AgentReport>>>;
  /** why a report does not count, for the reasons (unbound, stale) */
  readonly notes: readonly string[];
}

/** The agent observation, when the pair has the agent on (a pair that opted out ignores any report). */
const agentOf = (pair: PairConfig, observation: PairObservation) =>
  pair.agent?.enabled === false ? undefined : observation.agent;

/** hh:mm:ss.mmmZ of an epoch ms, as reasons show a report's time. */
const clockTime = (epochMs: number): string => new Date(epochMs).toISOString().slice(11);

/** Read the agent reports of this evaluation, given the `since`s counted before. */
export function readAgent(
  pair: PairConfig,
  observation: PairObservation,
  memory: PairMemory,
  now: number,
): AgentView {
  const agent = agentOf(pair, observation);
  const countable: Partial<Record<Role, AgentReport>> = {};
  const notes: string[] = [];
  for (const role of ROLES) {
    const { report, bound } = agent?.[role] ?? {};
    if (report === undefined) continue;
    const who = `${role} agent report (${report.verdict} since ${clockTime(report.since)})`;
    if (bound !== true) {
      notes.push(
        `${who} is not evidence: stored under ${report.instanceId}'s key but claims to be ${report.claimedInstanceId} (a member speaks only for itself)`,
      );
      continue;
    }
    if (report.verdict !== 'unhealthy') continue;
    if (now - report.at > AGENT_REPORT_FRESH_MS) {
      notes.push(
        `${who} is stale: sent at ${clockTime(report.at)}, more than ${formatSeconds(AGENT_REPORT_FRESH_MS / 1000)} ago: not counted`,
      );
      continue;
    }
    if (memory.agentCounted?.[role] === report.since) continue;
    countable[role] = report;
  }
  return { countable, notes };
}

/** The daemon streak's step this evaluation: 2 when a countable report and the probe both say unhealthy. */
export function daemonStep(view: AgentView, role: Role, probeHealth: string | undefined): 1 | 2 {
  return probeHealth === 'unhealthy' && view.countable[role] !== undefined ? 2 : 1;
}

/** What a streak that a report helped says about it: " (agent report at 12:00:03.120Z + probe)". */
export const countedText = (report: AgentReport): string =>
  ` (agent report at ${clockTime(report.at)} + probe)`;

/**
 * The `since`s to remember after this evaluation: the report counted now, or the one counted before while it
 * is still the member's current unhealthy report; while the table could not be read, what was remembered.
 * Nothing otherwise, so a steady pair's memory stays empty here.
 */
export function nextAgentCounted(
  pair: PairConfig,
  observation: PairObservation,
  memory: PairMemory,
  counted: Readonly<Partial<Record<Role, AgentReport>>>,
): Partial<Record<Role, number>> {
  const agent = agentOf(pair, observation);
  const next: Partial<Record<Role, number>> = {};
  for (const role of ROLES) {
    const now = counted[role];
    const before = memory.agentCounted?.[role];
    const seen = agent?.[role];
    if (now !== undefined) next[role] = now.since;
    else if (before === undefined || seen === undefined) continue;
    else if (!seen.readable) next[role] = before;
    else if (seen.report?.verdict === 'unhealthy' && seen.bound === true && seen.report.since === before) {
      next[role] = before;
    }
  }
  return next;
}

/**
 * Since when each member of an agent-enabled pair has been seen running, continuously, by this controller:
 * kept while it runs, dropped when it does not (or EC2 cannot say), so that a member just started (after a
 * stop, a resize or a new deployment) gives its agent time to boot before its silence counts. Only changes
 * when a member starts or stops, so a steady pair's stored item does not change.
 */
export function nextRunningSince(
  pair: PairConfig,
  observation: PairObservation,
  memory: PairMemory,
  now: number,
): Partial<Record<Role, number>> {
  if (agentOf(pair, observation) === undefined) return {};
  const next: Partial<Record<Role, number>> = {};
  for (const role of ROLES) {
    if (observation.instances[role].state === 'running') next[role] = memory.runningSince?.[role] ?? now;
  }
  return next;
}

/**
 * agent-silent: a member that runs, with the agent on, whose agent has written nothing for
 * AGENT_SILENT_AFTER_MS (no report at all, or its last one older) and which has been running at least that
 * long (`runningSince`): an agent is given as long to boot as it is to heartbeat. Not raised while the table
 * cannot be read (that is an unknown, not silence) or while EC2's view of the member is unknown.
 */
export function agentSilentAlarms(
  pair: PairConfig,
  observation: PairObservation,
  memory: PairMemory,
  now: number,
): Alarm[] {
  const agent = agentOf(pair, observation);
  if (agent === undefined) return [];
  return ROLES.flatMap((role) => {
    const seen = agent[role];
    if (!seen.readable || observation.instances[role].state !== 'running') return [];
    const running = memory.runningSince?.[role] ?? now;
    if (now - running < AGENT_SILENT_AFTER_MS) return [];
    const last = seen.report?.at;
    if (last !== undefined && now - last <= AGENT_SILENT_AFTER_MS) return [];
    const since =
      last === undefined ? 'has never reported' : `last reported at ${new Date(last).toISOString()}`;
    return [
      {
        kind: 'agent-silent' as const,
        detail: `${role} ${pair[role].instanceId} runs but its agent ${since} (nothing for more than ${formatSeconds(AGENT_SILENT_AFTER_MS / 1000)}): failures on it are detected at the probe's pace`,
      },
    ];
  });
}

/**
 * What became of each countable report the probe did not confirm: a healthy probe wins (the streak resets),
 * an unanswered one leaves the streak where it was.
 */
export function unconfirmedNotes(view: AgentView, probeHealth: (role: Role) => string | undefined): string[] {
  return ROLES.flatMap((role) => {
    const report = view.countable[role];
    const health = probeHealth(role);
    if (report === undefined || health === 'unhealthy') return [];
    const said = `${role} agent reports unhealthy since ${clockTime(report.since)} (${report.detail})`;
    if (health === 'healthy') return [`${said}, but the controller's probe passed: not counted`];
    if (health === undefined) return [`${said}, but the pair has no daemon probe to confirm it: not counted`];
    return [`${said}, but the controller's probe is ${health}: not counted, waiting for it`];
  });
}
