import { describe, expect, it } from 'vitest';
import { agentTableFromEnvironment } from '../../functions/environment.ts';

const PREFIX = 'arn:aws:ec2:eu-west-1:123456789012:instance/';

describe('the agent table in the Lambda environment', () => {
  it('leaves the agent off when no agent table is set', () => {
    expect(agentTableFromEnvironment({ AGENT_MEMBER_KEY_PREFIX: PREFIX })).toEqual({});
  });

  it('reads the agent table and the member key prefix', () => {
    expect(
      agentTableFromEnvironment({ AGENT_TABLE_NAME: 'agent-reports', AGENT_MEMBER_KEY_PREFIX: PREFIX }),
    ).toEqual({ agentTableName: 'agent-reports', agentMemberKeyPrefix: PREFIX });
  });

  it('refuses an agent table without a key prefix, or with a prefix that names no instance', () => {
    expect(() => agentTableFromEnvironment({ AGENT_TABLE_NAME: 'agent-reports' })).toThrow(
      'environment variable AGENT_MEMBER_KEY_PREFIX is not set (AGENT_TABLE_NAME is)',
    );
    expect(() =>
      agentTableFromEnvironment({
        AGENT_TABLE_NAME: 'agent-reports',
        AGENT_MEMBER_KEY_PREFIX: 'arn:aws:ec2:',
      }),
    ).toThrow(/AGENT_MEMBER_KEY_PREFIX is "arn:aws:ec2:", not an instance ARN prefix/);
  });
});
