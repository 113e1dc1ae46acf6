import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { toControllerError } from './errors.ts';

/** Who the caller is (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html). */
export interface CallerIdentity {
  /** the caller's ARN: arn:aws:iam::ACCOUNT:user/NAME, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION... */
  readonly arn: string;
  readonly account: string;
}

/** GetCallerIdentity, which needs no permission. Throws a typed error when the call fails. */
export async function callerIdentity(sts: STSClient): Promise<CallerIdentity> {
  try {
    const { Arn, Account } = await sts.send(new GetCallerIdentityCommand({}));
    return { arn: Arn ?? 'unknown', account: Account ?? 'unknown' };
  } catch (error) {
    throw toControllerError(error, 'GetCallerIdentity');
  }
}
