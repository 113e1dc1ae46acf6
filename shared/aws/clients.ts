import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * The SDK clients the Lambdas use (the controller and the resize steps): no more, because every client a Lambda
 * creates is bundled into it and loaded at each cold start. Only shared/aws/ imports SDK clients.
 */
export interface LambdaClients {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly cloudwatch: CloudWatchClient;
  readonly dynamo: DynamoDBDocumentClient;
}

/** The product's clients: the Lambdas', plus Step Functions to start and follow a resize (CLI, simulator). */
export interface AwsClients extends LambdaClients {
  readonly sfn: SFNClient;
}

/**
 * The clients of the operator command line: the product's, plus finding a deployment (CloudFormation), invoking
 * its controller (Lambda) and naming the caller (STS). Kept apart so the Lambdas create none of them.
 */
export interface OperatorClients extends AwsClients {
  readonly cloudformation: CloudFormationClient;
  readonly lambda: LambdaClient;
  readonly sts: STSClient;
}

/** The common SDK client config we pass through (region, endpoint, retries...). */
export interface ClientOptions {
  readonly region?: string;
  /** a profile of the shared config and credentials files; the SDK's default chain when absent */
  readonly profile?: string;
  readonly maxAttempts?: number;
  /** DynamoDB only: a local endpoint (dynalite in tests and the simulator); it gets fixed local credentials */
  readonly dynamoEndpoint?: string;
  /** Fixed credentials (the simulator, which answers beneath the clients and checks no signature) */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Applied to every client after creation: the simulator adds its middleware here. */
  readonly customize?: (client: OperatorClients[keyof OperatorClients]) => void;
}

/** The config every client gets from the options. */
const baseConfig = (options: ClientOptions) => ({
  ...(options.region ? { region: options.region } : {}),
  ...(options.profile ? { profile: options.profile } : {}),
  ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  ...(options.credentials ? { credentials: options.credentials } : {}),
});

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Apply `customize` to clients just created. */
function customized<T extends Partial<OperatorClients>>(options: ClientOptions, clients: T): T {
  if (options.customize) {
    for (const client of Object.values(clients))
      options.customize(client as OperatorClients[keyof OperatorClients]);
  }
  return clients;
}

/**
 * Create the Lambdas' clients. Standard retry mode with the SDK's defaults; the failover path relies on the
 * SDK to retry RequestLimitExceeded with backoff (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html) rather than on hand-rolled retries.
 */
export function createLambdaClients(options: ClientOptions = {}): LambdaClients {
  const base = baseConfig(options);
  // A local DynamoDB checks no signature, but the SDK still needs credentials to sign with.
  const dynamoBase = options.dynamoEndpoint
    ? { ...base, endpoint: options.dynamoEndpoint, credentials: options.credentials ?? LOCAL_CREDENTIALS }
    : base;
  return customized(options, {
    ec2: new EC2Client(base),
    ssm: new SSMClient(base),
    cloudwatch: new CloudWatchClient(base),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient(dynamoBase), {
      marshallOptions: { removeUndefinedValues: true },
    }),
  });
}

/** The product's clients: createLambdaClients' plus Step Functions, with the same options. */
export function createClients(options: ClientOptions = {}): AwsClients {
  return {
    ...createLambdaClients(options),
    ...customized(options, { sfn: new SFNClient(baseConfig(options)) }),
  };
}

/** The operator CLI's clients: createClients' plus CloudFormation, Lambda and STS, with the same options. */
export function createOperatorClients(options: ClientOptions = {}): OperatorClients {
  const base = baseConfig(options);
  const extra = customized(options, {
    cloudformation: new CloudFormationClient(base),
    lambda: new LambdaClient(base),
    sts: new STSClient(base),
  });
  return { ...createClients(options), ...extra };
}
