import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { awsErrorName, toControllerError } from './errors.ts';

/**
 * CloudFormation reads: a deployed stack and its outputs, which is how the operator CLI finds a deployment
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html).
 */

/** A stack as DescribeStacks shows it. */
export interface StackDescription {
  readonly stackName: string;
  /** CREATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE... */
  readonly status: string;
  /** output values by OutputKey */
  readonly outputs: Readonly<Record<string, string>>;
}

/**
 * Whether DescribeStacks said the stack does not exist: CloudFormation answers ValidationError "Stack with id
 * NAME does not exist" (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html),
 * the same code it uses for malformed requests, so the message decides.
 */
const isMissingStack = (error: unknown): boolean =>
  awsErrorName(error) === 'ValidationError' && /does not exist/.test((error as Error).message ?? '');

/**
 * Describe one stack by name (or id). Resolves to undefined when no such stack exists (deleted stacks are not
 * found by name); throws a typed error (ThrottledError, AwsError with the code) for anything else.
 */
export async function describeStack(
  cloudformation: CloudFormationClient,
  stackName: string,
): Promise<StackDescription | undefined> {
  try {
    const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = Stacks[0];
    if (stack === undefined) return undefined;
    const outputs: Record<string, string> = {};
    for (const output of stack.Outputs ?? []) {
      if (output.OutputKey !== undefined && output.OutputValue !== undefined)
        outputs[output.OutputKey] = output.OutputValue;
    }
    return {
      stackName: stack.StackName ?? stackName,
      status: stack.StackStatus ?? 'UNKNOWN',
      outputs,
    };
  } catch (error) {
    if (isMissingStack(error)) return undefined;
    throw toControllerError(error, `DescribeStacks ${stackName}`);
  }
}
