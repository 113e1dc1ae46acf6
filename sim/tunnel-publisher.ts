/**
 * When the member agent puts its TunnelUp datapoints to CloudWatch (instance/vpn-failover-agent.sh publish):
 * it takes one datapoint every METRIC_INTERVAL, timestamped when taken, and sends a datapoint that is not 1
 * (the tunnel down) or differs from the one taken before at once, together with any it holds; datapoints of a
 * tunnel that stays up wait until TUNNEL_UP_BATCH of them go in one PutMetricData. The per-minute series stays
 * whole, with a steady member's requests cut by TUNNEL_UP_BATCH; the controller reads an up tunnel from the
 * agent's report instead (shared/decide/tunnel-source.ts), and a tunnel going down reaches the metric at once.
 */

/** Datapoints of an up tunnel per PutMetricData (the script's METRIC_BATCH). */
export const TUNNEL_UP_BATCH = 5;

/** One TunnelUp datapoint as the agent takes it. */
export interface TakenDatapoint {
  /** epoch ms taken, the datapoint's timestamp */
  readonly at: number;
  readonly value: number;
}

/**
 * One member agent's TunnelUp publication: what it holds and what it sends. `batch` is TUNNEL_UP_BATCH while the
 * agent's reports stand for its up datapoints (the pair's metric is the agent's own, the agent reports), else 1.
 */
export class TunnelUpPublisher {
  readonly #batch: number;
  #held: TakenDatapoint[] = [];
  #previous: number | undefined;

  constructor(batch: number) {
    this.#batch = batch;
  }

  /** Take one datapoint; returns the datapoints sent now (none while an up tunnel's batch fills). */
  take(at: number, value: number): TakenDatapoint[] {
    const changed = this.#previous !== undefined && this.#previous !== value;
    this.#previous = value;
    this.#held.push({ at, value });
    if (value === 1 && !changed && this.#held.length < this.#batch) return [];
    const sent = this.#held;
    this.#held = [];
    return sent;
  }

  /** The agent's process ended: what it held is lost, and the next one starts from nothing. */
  stop(): void {
    this.#held = [];
    this.#previous = undefined;
  }
}
