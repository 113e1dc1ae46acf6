import type { Role } from '../domain/types.ts';
import type { ResizeContext, Stage } from './types.ts';

/**
 * The resize state machine's state names, shared by the CDK definition (infra/resize-workflow.ts) and whatever
 * follows an execution (the CLI, the simulator's timeline), so a renamed state cannot silently break either.
 */
export const RESIZE_STATES = {
  start: 'Start',
  preflight: 'Preflight',
  firstGate: 'Resize first member?',
  secondGate: 'Resize second member?',
  failover: 'Fail over to first member',
  soakWait: 'Soak: wait',
  soakCheck: 'Soak: check',
  soakOver: 'Soak over?',
  rollback: 'Roll back',
  failback: 'Fail back',
  conclude: 'Conclude',
  notify: 'Notify',
  notifyConclusionFailed: 'Notify: conclusion failed',
  ended: 'How did it end?',
  succeeded: 'Resized',
  refused: 'Refused',
  rolledBack: 'Rolled back',
  failed: 'Failed',
  conclusionFailed: 'Conclusion failed',
} as const;

/** State-name prefix of each member chain: "Resize first member", "Revert second member". */
export const chainPrefix = (kind: 'Resize' | 'Revert', stage: Stage): string => `${kind} ${stage} member`;

/** The suffixes of a member chain's states. */
export const CHAIN_STATES = {
  stop: 'stop',
  watchStop: 'watch the stop',
  waitStopped: 'wait until stopped',
  checkStopped: 'stopped?',
  isStopped: 'is it stopped?',
  modify: 'set type',
  start: 'start',
  watchHealth: 'watch health',
  waitHealthy: 'wait until healthy',
  checkHealthy: 'healthy?',
  isHealthy: 'is it healthy?',
  inspect: 'inspect',
  revertNeeded: 'needed?',
} as const;

/** A state of a member chain, by prefix and suffix. */
export const chainState = (
  prefix: string,
  suffix: (typeof CHAIN_STATES)[keyof typeof CHAIN_STATES],
): string => `${prefix}: ${suffix}`;

/** One line of progress: what an operator reads, and the group that collapses a polling loop into one line. */
export interface ProgressStep {
  readonly label: string;
  /** consecutive states of the same group are one step (the Wait, check and Choice of one loop) */
  readonly group: string;
}

/** The roles behind "first member" and "second member", once the preflight has said. */
export type StageRoles = Partial<Pick<ResizeContext, 'first' | 'second'>>;

const LOOP_GROUPS: Readonly<Record<string, string>> = {
  [CHAIN_STATES.waitStopped]: CHAIN_STATES.waitStopped,
  [CHAIN_STATES.checkStopped]: CHAIN_STATES.waitStopped,
  [CHAIN_STATES.isStopped]: CHAIN_STATES.waitStopped,
  [CHAIN_STATES.waitHealthy]: CHAIN_STATES.waitHealthy,
  [CHAIN_STATES.checkHealthy]: CHAIN_STATES.waitHealthy,
  [CHAIN_STATES.isHealthy]: CHAIN_STATES.waitHealthy,
};

/** States that only move data or branch: never shown as a step of their own. */
const INTERNAL: ReadonlySet<string> = new Set([
  RESIZE_STATES.start,
  RESIZE_STATES.firstGate,
  RESIZE_STATES.secondGate,
  RESIZE_STATES.ended,
  CHAIN_STATES.watchStop,
  CHAIN_STATES.watchHealth,
  CHAIN_STATES.revertNeeded,
]);

const roleName = (stage: Stage, roles: StageRoles): string => {
  const role: Role | undefined = roles[stage];
  return role ?? `${stage} member`;
};

/**
 * How a state of the resize state machine reads as progress: "first member" and "second member" become the
 * roles once known; the states of a polling loop share a group; internal states (Pass, gates) give undefined.
 */
export function progressStep(state: string, roles: StageRoles): ProgressStep | undefined {
  if (INTERNAL.has(state)) return undefined;
  if (
    state === RESIZE_STATES.soakWait ||
    state === RESIZE_STATES.soakCheck ||
    state === RESIZE_STATES.soakOver
  ) {
    return { label: 'Soak', group: 'Soak' };
  }
  if (state === RESIZE_STATES.failover) {
    const label = `Fail over to ${roleName('first', roles)}`;
    return { label, group: label };
  }
  const chain = /^(Resize|Revert) (first|second) member: (.+)$/.exec(state);
  if (chain) {
    const [, kind, stage, suffix] = chain as unknown as [string, string, Stage, string];
    if (INTERNAL.has(suffix)) return undefined;
    const step = LOOP_GROUPS[suffix] ?? suffix;
    const label = `${kind} ${roleName(stage, roles)}: ${step}`;
    return { label, group: label };
  }
  return { label: state, group: state };
}

/** The end states and how each ended. */
export const END_STATES: Readonly<Record<string, 'succeeded' | 'refused' | 'rolled-back' | 'failed'>> = {
  [RESIZE_STATES.succeeded]: 'succeeded',
  [RESIZE_STATES.refused]: 'refused',
  [RESIZE_STATES.rolledBack]: 'rolled-back',
  [RESIZE_STATES.failed]: 'failed',
  [RESIZE_STATES.conclusionFailed]: 'failed',
};
