import type { PairConfig } from '../config/schema.ts';
import type { PairMemory, PairObservation, ProbeObservation, Role } from '../domain/types.ts';
import { otherRole, ROLES } from '../domain/types.ts';
import type { SilenceFinding } from './health.ts';

/**
 * Differential silence: one probe round covers both members of a pair, so when it is answered on one member
 * and not on the other, the control plane worked and the silent member did not. Silence alone cannot tell a
 * lost OS from a lost SSM agent (real SSM keeps an agent Online until its heartbeat lapses, and commands wait
 * undelivered meanwhile), so it needs a witness that does not go through the silent member's agent: its
 * partner pings it in the same probe. A member's OS is lost when, OS_LOST_AFTER evaluations in a row, its probe
 * was silent, its partner's probe answered, and the partner's ping of it got no reply, while that partner has
 * reached it by ping at least once before (so a security group that never lets ping through proves nothing).
 * EC2 must still say the member runs; a stopped or impaired member is a hard loss anyway.
 */

/** Evaluations in a row of corroborated silence after which a member's OS counts as lost. */
export const OS_LOST_AFTER = 2;

/** What silence says about each member in this evaluation, and the memory that carries it to the next. */
export interface SilenceView {
  readonly findings: Readonly<Record<Role, SilenceFinding>>;
  /** corroborated-silence streaks after this evaluation (capped at OS_LOST_AFTER) */
  readonly streak: Readonly<Record<Role, number>>;
  /** member instance ids their partner has reached by ping, kept for the pair's current members */
  readonly peerReached: readonly string[];
}

/** The script ran on the member: whatever its verdict, the member's OS and agent are alive. */
const answered = (probe: ProbeObservation | undefined): boolean =>
  probe !== undefined && (probe.reply === 'answered' || probe.outcome !== 'unknown');

/** Read this evaluation's silence, given what earlier evaluations remembered. */
export function readSilence(pair: PairConfig, observation: PairObservation, memory: PairMemory): SilenceView {
  const ids = ROLES.map((role) => pair[role].instanceId);
  const probes = observation.probes;
  const reachedNow = ROLES.filter((role) => {
    const witness = probes?.[otherRole(role)];
    return answered(witness) && witness?.peer === 'reachable';
  }).map((role) => pair[role].instanceId);
  const peerReached = ids.filter((id) => reachedNow.includes(id) || memory.peerReached?.includes(id));

  const streak = {} as Record<Role, number>;
  const findings = {} as Record<Role, SilenceFinding>;
  for (const role of ROLES) {
    const partner = otherRole(role);
    const mine = probes?.[role];
    const theirs = probes?.[partner];
    const instance = observation.instances[role];
    const silent = mine?.reply === 'silent' && answered(theirs) && instance.state === 'running';
    const unanswered = silent && theirs?.peer === 'unreachable';
    const previous = memory.silenceStreak?.[role] ?? 0;
    streak[role] = unanswered ? Math.min(previous + 1, OS_LOST_AFTER) : 0;
    const history = memory.peerReached?.includes(pair[role].instanceId) === true;
    if (!silent) {
      findings[role] = {};
    } else if (theirs?.peer === 'reachable') {
      findings[role] = {
        note: `silent while ${partner} answered, but ${partner} reaches it by ping: its SSM agent, not its OS, is silent`,
      };
    } else if (theirs?.peer !== 'unreachable') {
      findings[role] = {
        note: `silent while ${partner} answered; ${partner} could not say whether it answers ping, so this is no evidence`,
      };
    } else if (!history) {
      findings[role] = {
        note: `silent while ${partner} answered and ${partner} gets no ping reply from it, but ${partner} has never reached it by ping (ping may be blocked), so this is no evidence`,
      };
    } else if (streak[role] < OS_LOST_AFTER) {
      findings[role] = {
        note: `silent while ${partner} answered and gets no ping reply from it: ${streak[role]}/${OS_LOST_AFTER} evaluations before its OS counts as lost`,
      };
    } else {
      findings[role] = {
        osLost: `probe silent ${OS_LOST_AFTER} evaluations in a row while ${partner} answered, and ${partner} gets no ping reply from it (it did before)`,
      };
    }
  }
  return { findings, streak, peerReached };
}
