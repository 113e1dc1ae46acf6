import { describe, expect, it } from 'vitest';
import { evaluateMember } from '../../shared/decide/health.ts';
import { reportedTunnel } from '../../shared/decide/tunnel-source.ts';
import { AGENT_REPORT_FRESH_MS } from '../../shared/domain/agent.ts';
import { agentReport, agentSeen, healthyObservation, NOW, type PairInput, pairConfig } from './builders.ts';

/** A pair whose tunnel signal reads the metric the member agent publishes (the schema's defaults). */
const agentsMetric = (tunnel: PairInput['tunnel'] = {}) => pairConfig({ tunnel });

describe("a member's tunnel reading from its agent's report", () => {
  it('stands for the metric when the fresh, bound report says the tunnel is up and the metric is the agent’s own', () => {
    const report = agentReport('primary');

    expect(reportedTunnel(agentsMetric(), agentSeen('primary', report), NOW)).toEqual({
      at: report.at,
      value: 1,
    });
  });

  it('does not when the report says the tunnel is down or cannot judge it: a breach is judged on the metric’s datapoints', () => {
    const down = agentReport('primary', { verdict: 'unhealthy', tunnelUp: false });
    const unjudged = agentReport('primary', { verdict: 'unknown', tunnelUp: undefined });

    expect(reportedTunnel(agentsMetric(), agentSeen('primary', down), NOW)).toBeUndefined();
    expect(reportedTunnel(agentsMetric(), agentSeen('primary', unjudged), NOW)).toBeUndefined();
  });

  it('does not when the report is stale, unbound, missing or unreadable', () => {
    const stale = agentReport('primary', { at: NOW - AGENT_REPORT_FRESH_MS - 1 });
    const forged = agentReport('primary', { claimedInstanceId: 'i-0fedcba9876543210' });

    expect(reportedTunnel(agentsMetric(), agentSeen('primary', stale), NOW)).toBeUndefined();
    expect(reportedTunnel(agentsMetric(), agentSeen('primary', forged), NOW)).toBeUndefined();
    expect(reportedTunnel(agentsMetric(), agentSeen('primary', 'none'), NOW)).toBeUndefined();
    expect(reportedTunnel(agentsMetric(), agentSeen('primary', 'unreadable'), NOW)).toBeUndefined();
    expect(reportedTunnel(agentsMetric(), undefined, NOW)).toBeUndefined();
  });

  it('does not when the pair reads a metric the agent does not publish: AWS/VPN TunnelState, other dimensions, the controller’s namespace, a Sum', () => {
    const seen = agentSeen('primary', agentReport('primary'));
    const awsVpn = agentsMetric({
      namespace: 'AWS/VPN',
      metricName: 'TunnelState',
      dimensions: {
        primary: { TunnelIpAddress: '203.0.113.1' },
        standby: { TunnelIpAddress: '203.0.113.2' },
      },
      statistic: 'Maximum',
    });

    expect(reportedTunnel(awsVpn, seen, NOW)).toBeUndefined();
    expect(reportedTunnel(agentsMetric({ namespace: 'VpnFailover' }), seen, NOW)).toBeUndefined();
    expect(reportedTunnel(agentsMetric({ statistic: 'Sum' }), seen, NOW)).toBeUndefined();
    expect(reportedTunnel(pairConfig({ tunnel: {}, agent: { enabled: false } }), seen, NOW)).toBeUndefined();
  });

  it('does not when the pair’s own threshold reads TunnelUp 1 as a breach', () => {
    const seen = agentSeen('primary', agentReport('primary'));

    expect(
      reportedTunnel(agentsMetric({ threshold: 0, comparison: 'greaterThan' }), seen, NOW),
    ).toBeUndefined();
  });

  it('reads healthy and says it came from the agent’s report, not the metric', () => {
    const pair = agentsMetric();
    const report = agentReport('primary');
    const observation = healthyObservation(pair);
    const verdict = evaluateMember({
      pair,
      role: 'primary',
      observation: {
        ...observation,
        tunnels: {
          primary: { instanceId: report.instanceId, reported: { at: report.at, value: 1 } },
          standby: observation.tunnels?.standby ?? { instanceId: 'i-0fedcba9876543210' },
        },
      },
      now: NOW,
    });

    expect(verdict.signals.tunnel).toEqual({
      health: 'healthy',
      reason: `TunnelUp 1 in the agent's report sent at ${new Date(report.at).toISOString()} (metric not read)`,
    });
  });
});
