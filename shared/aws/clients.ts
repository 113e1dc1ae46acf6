import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The SDK clients the product uses. Only shared/aws/ imports SDK clients. */
export interface AwsClients {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly cloudwatch: CloudWatchClient;
  readonly dynamo: DynamoDBDocumentClient;
  readonly sfn: SFNClient;
}

/** The common SDK client config we pass through (region, endpoint, retries...). */
export interface ClientOptions {
  readonly region?: string;
  readonly maxAttempts?: number;
  /** DynamoDB only: a local endpoint (dynalite in tests and the simulator); it gets fixed local credentials */
  readonly dynamoEndpoint?: string;
  /** Fixed credentials (the simulator, which answers beneath the clients and checks no signature) */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Applied to every client after creation: the simulator adds its middleware here. */
  readonly customize?: (client: AwsClients[keyof AwsClients]) => void;
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * Create the product's clients. Standard retry mode with the SDK's defaults; the failover path relies on the
 * SDK to retry RequestLimitExceeded with backoff (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html) rather than on hand-rolled retries.
 */
export function createClients(options: ClientOptions = {}): AwsClients {
  const base = {
    ...(options.region ? { region: options.region } : {}),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
  // A local DynamoDB checks no signature, but the SDK still needs credentials to sign with.
  const dynamoBase = options.dynamoEndpoint
    ? { ...base, endpoint: options.dynamoEndpoint, credentials: options.credentials ?? LOCAL_CREDENTIALS }
    : base;
  const clients: AwsClients = {
    ec2: new EC2Client(base),
    ssm: new SSMClient(base),
    cloudwatch: new CloudWatchClient(base),
    dynamo: DynamoDBDocumentClient.from(new DynamoDBClient(dynamoBase), {
      marshallOptions: { removeUndefinedValues: true },
    }),
    sfn: new SFNClient(base),
  };
  if (options.customize) for (const client of Object.values(clients)) options.customize(client);
  return clients;
}
