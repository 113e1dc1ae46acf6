/**
 * Timing bounds of the resize workflow, shared by the state machine (Wait seconds) and the step Lambda (attempt
 * limits), so the two cannot drift apart.
 */

/** One Wait + Choice polling loop: wait `intervalSeconds`, poll, at most `maxAttempts` polls. */
export interface PollPolicy {
  readonly intervalSeconds: number;
  readonly maxAttempts: number;
}

/**
 * Waiting for `stopped`: every 15 s, at most 40 polls (10 minutes), the same bound as the SDK's InstanceStopped
 * waiter; a graceful OS shutdown takes up to "a few minutes" before EC2 forces it (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-resize.html).
 */
export const STOP_POLL: PollPolicy = { intervalSeconds: 15, maxAttempts: 40 };

/**
 * Waiting until healthy after a start: every 15 s, at most 40 polls (10 minutes). Start to running is 15-60 s and
 * status checks read `ok` 1-3 minutes later (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-resize.html), then the daemon probe and tunnel follow.
 */
export const HEALTHY_POLL: PollPolicy = { intervalSeconds: 15, maxAttempts: 40 };

/** How often the soak re-checks the resized member carrying traffic. */
export const SOAK_POLL_SECONDS = 15;

/**
 * After the soak time, how long the member may still read `unknown` before the soak counts as failed: a soak
 * must end on a positively healthy reading.
 */
export const SOAK_GRACE_SECONDS = 300;

/** @default soak of the resized member carrying traffic: 2 minutes. */
export const DEFAULT_SOAK_SECONDS = 120;

/** Longest soak accepted: a Standard execution may run a year, but a lease that long would hide real failures. */
export const MAX_SOAK_SECONDS = 24 * 3600;

/**
 * The lease is written at preflight and each time traffic moves; between two writes at most one member's
 * stop-modify-start-healthy cycle (under 25 minutes with the bounds above and their retries) plus the soak can
 * pass. An hour on top of the soak covers that with room; a crashed execution's lease still expires by itself.
 */
export const LEASE_BASE_SECONDS = 3600;

/** Lease duration for a resize with the given soak. */
export const leaseSecondsFor = (soakSeconds: number): number => LEASE_BASE_SECONDS + soakSeconds;

/**
 * Retries of ThrottledError on every Lambda step: EC2's StartInstances bucket refills at 2 a second and
 * mutating calls at 5 (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html), and the SDK has already retried 3 times inside the step.
 */
export const THROTTLE_RETRY = {
  intervalSeconds: 5,
  maxAttempts: 6,
  backoffRate: 2,
  maxDelaySeconds: 60,
} as const;
