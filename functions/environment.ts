import { createLambdaClients } from '../shared/aws/clients.ts';
import { systemClock } from '../shared/clock.ts';
import { loadDeployedConfig } from '../shared/config/load.ts';
import type { ControllerDeps } from '../shared/controller/types.ts';
import { agentMemberKey, instanceIdOfMemberKey } from '../shared/domain/agent.ts';
import { rootLogger } from '../shared/logger.ts';
import { ENV } from '../shared/telemetry-names.ts';

let coldStart: ControllerDeps | undefined;

/**
 * What every Lambda of the product runs with, built once per cold start from the environment the CDK app
 * sets: SDK clients, the configuration bundled as a file (no 4 KB environment ceiling), table and document.
 */
export function depsFromEnvironment(): ControllerDeps {
  const required = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`environment variable ${name} is not set`);
    return value;
  };
  coldStart ??= {
    clients: createLambdaClients(),
    config: loadDeployedConfig(required(ENV.configPath)),
    tableName: required(ENV.tableName),
    probeDocument: required(ENV.probeDocument),
    clock: systemClock,
    log: rootLogger,
    ...agentTableFromEnvironment(process.env),
  };
  return coldStart;
}

/**
 * The member agent's table and key prefix. Both are optional (a deployment without the agent has neither):
 * without the table the agent is off everywhere. A table without its key prefix cannot name any member's
 * report, so that is a deployment error, said at once.
 */
export function agentTableFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
): Pick<ControllerDeps, 'agentTableName' | 'agentMemberKeyPrefix'> {
  const agentTableName = env[ENV.agentTableName];
  if (!agentTableName) return {};
  const agentMemberKeyPrefix = env[ENV.agentMemberKeyPrefix];
  if (!agentMemberKeyPrefix) {
    throw new Error(`environment variable ${ENV.agentMemberKeyPrefix} is not set (${ENV.agentTableName} is)`);
  }
  if (instanceIdOfMemberKey(agentMemberKey(agentMemberKeyPrefix, 'i-00000000')) === undefined) {
    throw new Error(
      `environment variable ${ENV.agentMemberKeyPrefix} is ${JSON.stringify(agentMemberKeyPrefix)}, not an instance ARN prefix (arn:PARTITION:ec2:REGION:ACCOUNT:instance/)`,
    );
  }
  return { agentTableName, agentMemberKeyPrefix };
}
