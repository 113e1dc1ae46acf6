import type { PairConfig } from '../config/schema.ts';
import { AGENT_REPORT_FRESH_MS } from '../domain/agent.ts';
import type { AgentObservation, ReportedTunnel } from '../domain/types.ts';
import { METRICS_NAMESPACE } from '../telemetry-names.ts';

/**
 * Where a member's tunnel reading comes from: its member agent's report or the tunnel metric. The agent takes
 * its TunnelUp from the very check whose datapoint it publishes, and writes the value into every report, so a
 * fresh report that says the tunnel is up already holds what the metric's newest datapoint would: the
 * controller then reads no metric for that member (a GetMetricData metric per member per run is the largest
 * cost of a further pair, docs/cost.md). Anything else reads the metric as before, so a tunnel going down is
 * still judged on its M-of-M datapoints: a report that says down or cannot judge (the agent publishes each such
 * datapoint at once), a missing, stale, unbound or unreadable report, a pair without the agent, or a metric
 * that is not the agent's own.
 */

/** The statistics whose value over one agent datapoint per period is that datapoint. */
const SINGLE_VALUE_STATISTICS: ReadonlySet<string> = new Set(['Minimum', 'Maximum', 'Average']);

/**
 * Whether the pair's tunnel metric is the one the member agent publishes: its namespace is neither AWS's own
 * (AWS/VPN TunnelState comes from AWS) nor the controller's (the agent then publishes elsewhere), its series is
 * selected by the member's instance id alone (as the agent publishes it), and its statistic over one datapoint
 * a period is that datapoint's value.
 */
export function agentPublishesTunnelMetric(pair: PairConfig): boolean {
  const tunnel = pair.tunnel;
  return (
    tunnel !== undefined &&
    !tunnel.namespace.startsWith('AWS/') &&
    tunnel.namespace !== METRICS_NAMESPACE &&
    tunnel.dimensions === undefined &&
    SINGLE_VALUE_STATISTICS.has(tunnel.statistic)
  );
}

/**
 * The tunnel reading a member's agent report gives, when it may stand for the metric: the pair's metric is the
 * agent's own, the report is bound to the member, sent within AGENT_REPORT_FRESH_MS, holds a TunnelUp, and that
 * value does not breach the pair's threshold. Undefined otherwise: read the metric.
 */
export function reportedTunnel(
  pair: PairConfig,
  agent: AgentObservation | undefined,
  now: number,
): ReportedTunnel | undefined {
  const tunnel = pair.tunnel;
  const report = agent?.report;
  if (tunnel === undefined || !agentPublishesTunnelMetric(pair) || pair.agent?.enabled === false)
    return undefined;
  if (report === undefined || agent?.bound !== true || report.tunnelUp === undefined) return undefined;
  if (now - report.at > AGENT_REPORT_FRESH_MS) return undefined;
  const value = report.tunnelUp ? 1 : 0;
  const breaches = tunnel.comparison === 'lessThan' ? value < tunnel.threshold : value > tunnel.threshold;
  return breaches ? undefined : { at: report.at, value };
}
