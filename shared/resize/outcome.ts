import type { Health, InstanceState, Role } from '../domain/types.ts';
import { ROLES } from '../domain/types.ts';
import { finalTarget } from './preflight.ts';
import type { ResizeContext } from './types.ts';

/**
 * How a resize ended, decided from what the pair looks like at the end (level-triggered, like the controller):
 * - succeeded: both members run the new type and traffic is where it was asked to end, on a healthy member;
 * - rolled-back: a step failed and the pair is as the workflow found it (original types, traffic on the member
 *   that carried it, both running);
 * - refused: the preflight stopped it; nothing was touched;
 * - failed: anything else; the message says what is left.
 */
export type ResizeStatus = 'succeeded' | 'rolled-back' | 'refused' | 'failed';

/** One member as the conclusion sees it. */
export interface MemberState {
  readonly instanceId: string;
  readonly state?: InstanceState;
  readonly instanceType?: string;
  readonly health: Health;
}

/** A step error as Step Functions caught it. */
export interface StepFailure {
  readonly Error: string;
  readonly Cause?: string;
}

/** What the conclusion knows. */
export interface OutcomeFacts {
  readonly pair: string;
  /** the requested type, when the request could be read */
  readonly instanceType?: string;
  /** absent when the preflight did not pass */
  readonly ctx?: ResizeContext;
  /** the error that ended the normal path, if any */
  readonly error?: StepFailure;
  /** an error of the compensation (reverting a member), if any */
  readonly revertError?: StepFailure;
  /** absent when the pair is not configured (a refused request) */
  readonly members?: Readonly<Record<Role, MemberState>>;
  /** the member every managed route points at, or undefined when they are split or unreadable */
  readonly carrying?: Role;
  /** what the conclusion itself did to traffic and the lease, in words */
  readonly actions: readonly string[];
}

/** The conclusion: a status, and the subject and message the SNS topic gets. */
export interface Outcome {
  readonly status: ResizeStatus;
  /** SNS subjects are at most 100 ASCII characters */
  readonly subject: string;
  readonly message: string;
}

/**
 * The readable message of a Step Functions error cause: a Lambda error's Cause is a JSON document with
 * `errorMessage`; anything else is shown as it is.
 */
export function causeMessage(failure: StepFailure): string {
  const cause = failure.Cause ?? '';
  try {
    const parsed: unknown = JSON.parse(cause);
    if (parsed && typeof parsed === 'object' && 'errorMessage' in parsed) {
      return String((parsed as { errorMessage: unknown }).errorMessage);
    }
  } catch {
    // not JSON: the cause is already the message
  }
  return cause;
}

const describeFailure = (failure: StepFailure): string => {
  const message = causeMessage(failure);
  return message === '' ? failure.Error : `${failure.Error}: ${message}`;
};

/** Decide the status and write the notification. Pure. */
export function concludeResize(facts: OutcomeFacts): Outcome {
  const status = statusOf(facts);
  const what = facts.instanceType
    ? `resize of pair ${facts.pair} to ${facts.instanceType}`
    : `resize of pair ${facts.pair}`;
  const headline = {
    succeeded: `${capitalised(what)} succeeded.`,
    'rolled-back': `${capitalised(what)} rolled back${facts.error ? ` after ${describeFailure(facts.error)}` : ''}.`,
    refused: `${capitalised(what)} refused${facts.error ? `: ${describeFailure(facts.error)}` : ''}.`,
    failed: `${capitalised(what)} failed${facts.error ? `: ${describeFailure(facts.error)}` : ''}.`,
  }[status];
  const lines = [headline];
  if (facts.revertError) lines.push(`Reverting a member failed too: ${describeFailure(facts.revertError)}.`);
  lines.push(`Pair state: ${pairState(facts)}.`);
  if (facts.actions.length > 0) lines.push(`${capitalised(facts.actions.join('; '))}.`);
  const subject = `vpn-failover: ${what} ${status === 'rolled-back' ? 'rolled back' : status}`;
  return { status, subject: asciiSubject(subject), message: lines.join('\n') };
}

function statusOf(facts: OutcomeFacts): ResizeStatus {
  const { ctx, members, carrying } = facts;
  if (ctx === undefined) return 'refused';
  if (members === undefined) return 'failed';
  const running = ROLES.every((role) => members[role].state === 'running');
  if (facts.error === undefined && facts.revertError === undefined) {
    const resized = ROLES.every((role) => members[role].instanceType === ctx.instanceType);
    const target = finalTarget(ctx);
    return resized && running && carrying === target && members[target].health === 'healthy'
      ? 'succeeded'
      : 'failed';
  }
  const original = ROLES.every((role) => members[role].instanceType === ctx.originalTypes[role]);
  return original && running && carrying === ctx.activeAtStart ? 'rolled-back' : 'failed';
}

function pairState(facts: OutcomeFacts): string {
  const known = facts.members;
  if (known === undefined) return 'not a configured pair';
  const traffic =
    facts.carrying === undefined ? 'routes split or unreadable' : `traffic on ${facts.carrying}`;
  const members = ROLES.map((role) => {
    const m = known[role];
    return `${role} ${m.instanceId} ${m.state ?? 'state unknown'} ${m.instanceType ?? 'type unknown'} (${m.health})`;
  });
  return [traffic, ...members].join('; ');
}

const capitalised = (text: string): string =>
  text === '' ? text : `${text[0]?.toUpperCase()}${text.slice(1)}`;

/** SNS Subject: ASCII, no line breaks, at most 100 characters. */
function asciiSubject(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= 100 ? ascii : `${ascii.slice(0, 97)}...`;
}
