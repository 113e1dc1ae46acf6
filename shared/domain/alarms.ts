/**
 * Every condition the controller raises for a person, in one list: the decision's alarms, the simulator's
 * `alarm` events, the CloudWatch alarms (`<deployment>.alarm.<kind>`) and the alarm runbook
 * (docs/operations.md#alarm-runbook) all use these names. Positively unhealthy and unknown (could not be read) are
 * always different kinds: an unknown says "look at SSM or CloudWatch", an unhealthy says "look at the member or the
 * far end".
 */
export const ALARM_KINDS = [
  /** traffic ought to move (or be put back) but no member can take it */
  'no-healthy-target',
  /** the member carrying traffic is lost (not running, impaired, blackholed routes) and this run leaves it there */
  'traffic-blackholed',
  /** the member not carrying traffic is positively unhealthy: no redundancy */
  'standby-unhealthy',
  /** the member not carrying traffic could not be read for several evaluations: redundancy unverified */
  'standby-unknown',
  /** both members are positively unhealthy */
  'both-unhealthy',
  /** a signal of the member carrying traffic could not be read for several evaluations */
  'signal-unknown',
  /** a managed route points outside the pair; it is left alone */
  'foreign-route',
  /** the route tables could not be read, so nothing is written */
  'routes-unreadable',
  /** a move is held because its target is under a maintenance lease (resize) */
  'maintenance-lease',
  /**
   * traffic left a lost member for one that is running with status checks ok but whose daemon or tunnel could
   * not be read: better than a certain blackhole, but check the new active member now
   */
  'moved-to-unverified',
  /**
   * a member's agent has sent nothing (not even its heartbeat) for AGENT_SILENT_AFTER_MS while the member runs:
   * failures on it are detected at the probe's pace again. Silence alone never moves traffic.
   */
  'agent-silent',
  /** an operator paused the pair: no automatic move until the pause ends or is lifted (operator commands still work) */
  'paused',
] as const;

export type AlarmKind = (typeof ALARM_KINDS)[number];
