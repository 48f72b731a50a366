/**
 * TEST CODE ONLY: wires REAL AWS SDK v3 clients to the local stand-in. A middleware at the
 * `initialize` step (before serialization, signing, retries and HTTP) reads
 * `context.commandName` and the command input, asks the fake, and returns `{ output }` or
 * throws the fake's SDK-shaped error. No request leaves the process; the SDK's own retry
 * middleware never runs, so every injected fault reaches the handler exactly once.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { FakeService } from './errors';
import { FakeCaller, FakeWorld } from './world';

/** The clients the handlers take. */
export interface FakeClients {
  readonly ec2: EC2Client;
  readonly s3: S3Client;
  readonly sfn: SFNClient;
  readonly cfn: CloudFormationClient;
  /** IAM (image export: the VM Import/Export service role's preflight). */
  readonly iam: IAMClient;
}

interface StackOwner {
  middlewareStack: { add(middleware: any, options: any): void };
}

/** Adds the short-circuit middleware to a client. */
export function wireClient<C extends StackOwner>(client: C, service: FakeService, world: FakeWorld, caller: FakeCaller): C {
  client.middlewareStack.add(
    (_next: unknown, context: { commandName?: string }) => async (args: { input: unknown }) => {
      const operation = String(context.commandName ?? '').replace(/Command$/, '');
      const output = await world.dispatch(service, operation, args.input, caller);
      return {
        output: { ...output, $metadata: { httpStatusCode: 200, requestId: `fake-${world.calls.length}`, attempts: 1, totalRetryDelay: 0 } },
        response: {},
      };
    },
    { step: 'initialize', name: 'fakeAwsShortCircuit', priority: 'high', override: true },
  );
  return client;
}

/** A set of real clients for one caller, all answered by the fake. */
export function createFakeClients(world: FakeWorld, caller: FakeCaller): FakeClients {
  const config = {
    region: world.region,
    credentials: { accessKeyId: 'AKIAFAKEFAKEFAKEFAKE', secretAccessKey: 'fake-secret' },
    maxAttempts: 1,
  };
  return {
    ec2: wireClient(new EC2Client(config), 'ec2', world, caller),
    s3: wireClient(new S3Client({ ...config, followRegionRedirects: true }), 's3', world, caller),
    sfn: wireClient(new SFNClient(config), 'sfn', world, caller),
    cfn: wireClient(new CloudFormationClient(config), 'cloudformation', world, caller),
    iam: wireClient(new IAMClient(config), 'iam', world, caller),
  };
}
