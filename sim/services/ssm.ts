import type {
  CommandInvocation,
  GetCommandInvocationRequest,
  GetCommandInvocationResult,
  ListCommandInvocationsRequest,
  ListCommandInvocationsResult,
  SendCommandRequest,
  SendCommandResult,
} from '@aws-sdk/client-ssm';
import { PROBE_PARAMETER_PATTERNS, PROBE_PARAMETERS, PROBE_STEP_NAME } from '../../shared/telemetry-names.ts';
import { serviceFault } from '../faults.ts';
import type { World } from '../world.ts';
import { ACCOUNT_ID, type SimCommand, type SimInvocation } from '../world-model.ts';
import { paginate, type ServiceHandlers } from './common.ts';

/**
 * SSM Run Command as the daemon probe uses it (docs/aws-behaviour.md#ssm-run-command): SendCommand refuses
 * instances that SSM does not count as online managed nodes (InvalidInstanceId), invocations become visible after a
 * short delay (InvocationDoesNotExist before), go Pending -> InProgress -> Success/Failed, and an invocation the
 * agent never takes up (it fell silent, and SSM has not noticed yet) stays Pending until it ends TimedOut, Delivery
 * Timed Out.
 */

/** SendCommand takes at most 50 InstanceIds (docs/aws-behaviour.md#ssm-run-command). */
const MAX_INSTANCES = 50;
const MIN_TIMEOUT_SECONDS = 30;

/** The probe document's parameters and patterns, as the CDK app deploys it (the API validates them too). */
const PARAMETER_PATTERNS: Readonly<Record<string, RegExp>> = {
  [PROBE_PARAMETERS.kind]: new RegExp(PROBE_PARAMETER_PATTERNS.kind),
  [PROBE_PARAMETERS.unit]: new RegExp(PROBE_PARAMETER_PATTERNS.unit),
  [PROBE_PARAMETERS.minSas]: new RegExp(PROBE_PARAMETER_PATTERNS.minSas),
  [PROBE_PARAMETERS.peerAddresses]: new RegExp(PROBE_PARAMETER_PATTERNS.peerAddresses),
  [PROBE_PARAMETERS.commandTimeout]: new RegExp(PROBE_PARAMETER_PATTERNS.commandTimeout),
};

function validateParameters(parameters: Readonly<Record<string, readonly string[]>>): void {
  for (const [name, values] of Object.entries(parameters)) {
    const pattern = PARAMETER_PATTERNS[name];
    if (!pattern)
      throw serviceFault('InvalidParameters', `Parameter "${name}" is not defined in the document.`);
    for (const value of values) {
      if (!pattern.test(value)) {
        throw serviceFault(
          'InvalidParameters',
          `Parameter "${name}" has value "${value}" not matching "${pattern.source}".`,
        );
      }
    }
  }
}

function sendCommand(world: World, input: SendCommandRequest): SendCommandResult {
  const ids = input.InstanceIds ?? [];
  if (input.Targets !== undefined) {
    throw serviceFault(
      'InvalidParameters',
      'The simulated account sends commands by InstanceIds only, not Targets',
    );
  }
  if (ids.length === 0) throw serviceFault('ValidationException', 'InstanceIds must not be empty');
  if (ids.length > MAX_INSTANCES) {
    throw serviceFault(
      'ValidationException',
      `1 validation error detected: Value at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to ${MAX_INSTANCES}`,
    );
  }
  if (new Set(ids).size !== ids.length)
    throw serviceFault('DuplicateInstanceId', 'Instance IDs must be unique');
  const timeoutSeconds = input.TimeoutSeconds ?? 3600;
  if (timeoutSeconds < MIN_TIMEOUT_SECONDS) {
    throw serviceFault(
      'ValidationException',
      `1 validation error detected: Value '${timeoutSeconds}' at 'timeoutSeconds' failed to satisfy constraint: Member must have value greater than or equal to ${MIN_TIMEOUT_SECONDS}`,
    );
  }
  if (input.DocumentName !== world.probeDocument) {
    throw serviceFault(
      'InvalidDocument',
      `Document ${input.DocumentName ?? ''} does not exist in the simulated account (it runs only ${world.probeDocument})`,
    );
  }
  const parameters = input.Parameters ?? {};
  validateParameters(parameters);
  // InvalidInstanceId also when the node is not an online managed node; the whole call fails
  // (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html, Errors). An agent that
  // has just fallen silent still reads Online until SSM misses its health ping: its command waits undelivered.
  const offline = ids.filter((id) => {
    const instance = world.visibleInstance(id);
    return !instance || !world.agentRegistered(instance);
  });
  if (offline.length > 0) {
    throw serviceFault(
      'InvalidInstanceId',
      `Instances [[${offline.join(', ')}]] not in a valid state for account ${ACCOUNT_ID}`,
    );
  }
  const now = world.clock.now();
  const hex = world.dice.hex(`command ${world.commands.size} ${now} ${ids.join(',')}`, 32);
  const command = world.sendCommand({
    id: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`,
    documentName: input.DocumentName,
    parameters,
    instanceIds: ids,
    requestedAt: now,
    timeoutSeconds,
    comment: input.Comment ?? '',
  });
  return {
    Command: {
      CommandId: command.id,
      DocumentName: command.documentName,
      DocumentVersion: '$DEFAULT',
      Comment: command.comment,
      ExpiresAfter: new Date(world.deliveryDeadline(command)),
      Parameters: { ...command.parameters } as Record<string, string[]>,
      InstanceIds: [...ids],
      Targets: [],
      RequestedDateTime: new Date(now),
      Status: 'Pending',
      StatusDetails: 'Pending',
      MaxConcurrency: input.MaxConcurrency ?? '50',
      MaxErrors: input.MaxErrors ?? '0',
      TargetCount: ids.length,
      CompletedCount: 0,
      ErrorCount: 0,
      DeliveryTimedOutCount: 0,
      TimeoutSeconds: timeoutSeconds,
    },
  };
}

function invocationShape(
  command: SimCommand,
  invocation: SimInvocation,
  details: boolean,
): CommandInvocation {
  return {
    CommandId: command.id,
    InstanceId: invocation.instanceId,
    InstanceName: '',
    Comment: command.comment,
    DocumentName: command.documentName,
    DocumentVersion: '$DEFAULT',
    RequestedDateTime: new Date(command.requestedAt),
    Status: invocation.status,
    StatusDetails: invocation.statusDetails,
    TraceOutput: '',
    StandardOutputUrl: '',
    StandardErrorUrl: '',
    CommandPlugins: details
      ? [
          {
            Name: PROBE_STEP_NAME,
            Status: invocation.status,
            StatusDetails: invocation.statusDetails,
            ResponseCode: invocation.responseCode,
            ...(invocation.startedAt !== undefined
              ? { ResponseStartDateTime: new Date(invocation.startedAt) }
              : {}),
            ...(invocation.endedAt !== undefined
              ? { ResponseFinishDateTime: new Date(invocation.endedAt) }
              : {}),
            // ListCommandInvocations keeps 2,500 characters of plugin output
            // (docs/aws-behaviour.md#ssm-run-command).
            Output: invocation.output.slice(0, 2500),
            StandardOutputUrl: '',
            StandardErrorUrl: '',
          },
        ]
      : [],
    ServiceRole: '',
    NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: 'Command' },
    CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
  };
}

function listCommandInvocations(
  world: World,
  input: ListCommandInvocationsRequest,
): ListCommandInvocationsResult {
  const max = input.MaxResults;
  if (max !== undefined && (max < 1 || max > 50)) {
    throw serviceFault(
      'ValidationException',
      `1 validation error detected: Value '${max}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50`,
    );
  }
  if (input.Filters !== undefined && input.Filters.length > 0) {
    throw serviceFault('InvalidFilterKey', 'The simulated account does not filter command invocations');
  }
  const now = world.clock.now();
  const commands =
    input.CommandId === undefined
      ? [...world.commands.values()]
      : [world.commands.get(input.CommandId)].flatMap((c) => c ?? []);
  if (input.CommandId !== undefined && commands.length === 0) {
    throw serviceFault('InvalidCommandId', `Command ID ${input.CommandId} is not valid.`);
  }
  const visible = commands.flatMap((command) =>
    [...command.invocations.values()]
      .filter(
        (i) => i.visibleAt <= now && (input.InstanceId === undefined || i.instanceId === input.InstanceId),
      )
      .map((i) => invocationShape(command, i, input.Details === true)),
  );
  const { page, nextToken } = paginate(visible, max ?? 50, input.NextToken);
  return { CommandInvocations: page, ...(nextToken ? { NextToken: nextToken } : {}) };
}

function getCommandInvocation(world: World, input: GetCommandInvocationRequest): GetCommandInvocationResult {
  const command = input.CommandId === undefined ? undefined : world.commands.get(input.CommandId);
  const invocation = input.InstanceId === undefined ? undefined : command?.invocations.get(input.InstanceId);
  // Eventually consistent right after SendCommand: InvocationDoesNotExist (docs/aws-behaviour.md#ssm-run-command).
  if (!command || !invocation || invocation.visibleAt > world.clock.now()) {
    throw serviceFault('InvocationDoesNotExist', '');
  }
  if (input.PluginName !== undefined && input.PluginName !== PROBE_STEP_NAME) {
    throw serviceFault('InvalidPluginName', `The plugin name ${input.PluginName} is not valid.`);
  }
  const finished = invocation.endedAt !== undefined && invocation.status !== 'TimedOut';
  const elapsed =
    invocation.startedAt !== undefined && invocation.endedAt !== undefined
      ? invocation.endedAt - invocation.startedAt
      : 0;
  return {
    CommandId: command.id,
    InstanceId: invocation.instanceId,
    Comment: command.comment,
    DocumentName: command.documentName,
    DocumentVersion: '$DEFAULT',
    PluginName: PROBE_STEP_NAME,
    ResponseCode: invocation.responseCode,
    ...(invocation.startedAt !== undefined
      ? { ExecutionStartDateTime: new Date(invocation.startedAt).toISOString() }
      : {}),
    ...(finished ? { ExecutionEndDateTime: new Date(invocation.endedAt as number).toISOString() } : {}),
    ExecutionElapsedTime: `PT${(elapsed / 1000).toFixed(3)}S`,
    Status: invocation.status,
    StatusDetails: invocation.statusDetails,
    // GetCommandInvocation keeps the first 24,000 characters of stdout, empty until done
    // (docs/aws-behaviour.md#ssm-run-command).
    StandardOutputContent: finished ? invocation.output.slice(0, 24000) : '',
    StandardOutputUrl: '',
    StandardErrorContent: '',
    StandardErrorUrl: '',
    CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
  };
}

/** The simulated SSM actions. */
export function ssmHandlers(world: World): ServiceHandlers {
  return {
    SendCommand: (input: SendCommandRequest) => sendCommand(world, input),
    ListCommandInvocations: (input: ListCommandInvocationsRequest) => listCommandInvocations(world, input),
    GetCommandInvocation: (input: GetCommandInvocationRequest) => getCommandInvocation(world, input),
  };
}
