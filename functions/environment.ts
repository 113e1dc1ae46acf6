import { createClients } from '../shared/aws/clients.ts';
import { systemClock } from '../shared/clock.ts';
import { loadConfigFile } from '../shared/config/load.ts';
import type { ControllerDeps } from '../shared/controller/types.ts';
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
    clients: createClients(),
    config: loadConfigFile(required(ENV.configPath)),
    tableName: required(ENV.tableName),
    probeDocument: required(ENV.probeDocument),
    clock: systemClock,
    log: rootLogger,
  };
  return coldStart;
}
