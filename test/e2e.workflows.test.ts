/**
 * End to end with a second InstanceExportWorkflow in the stack: the export runs through the
 * workflow it names, the stack's single provider is allowed to start (and stop) that workflow's
 * executions, and the workflow's Prepare step enforces the grants the template gives its
 * export-task function. The local stand-in has no IAM, so the IAM part is checked by evaluating
 * the provider's deployed policy against the execution the provider started.
 */
import './setup/with-resolvers';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { App, Stack } from 'aws-cdk-lib';
import { onEvent as bucketGrantOnEvent } from '../lambda/bucket-grant';
import { onEvent as providerOnEvent } from '../lambda/export-provider';
import { ENV_EXPORT_GRANTS } from '../lambda/shared/contract';
import { InstanceExport, InstanceExportWorkflow, TargetEnvironment, VmExportBucket } from '../src';
import { evaluateCfn } from './support/cfn-eval';
import { createFakeAws, FakeAws } from './support/fake-aws';
import { LocalDeployment } from './support/fake-aws/deployment';
import { BUCKET, Deployed, deliver, onlySignal, signalled } from './support/fake-aws/e2e-deploy';
import { SAMPLE_ACCOUNT, SAMPLE_INSTANCE } from './support/fake-aws/sample-stack';

const OTHER_INSTANCE = 'i-0fedcba9876543210';

/**
 * A stack with two exports: `Web` (OTHER_INSTANCE) through the stack's shared workflow, created
 * first, and `Export` (SAMPLE_INSTANCE) through a second workflow.
 */
function twoWorkflowStack(): any {
  const app = new App();
  const stack = new Stack(app, 'E2eStack', { env: { account: SAMPLE_ACCOUNT, region: 'us-east-1' } });
  const bucket = new VmExportBucket(stack, 'ExportBucket');
  new InstanceExport(stack, 'Web', { instanceId: OTHER_INSTANCE, bucket, targetEnvironment: TargetEnvironment.VMWARE });
  const nightly = new InstanceExportWorkflow(stack, 'NightlyWorkflow');
  new InstanceExport(stack, 'Export', {
    instanceId: SAMPLE_INSTANCE,
    bucket,
    targetEnvironment: TargetEnvironment.VMWARE,
    prefix: 'vms/',
    workflow: nightly,
  });
  return app.synth().getStackArtifact(stack.artifactId).template;
}

/**
 * Like `deploy()` of e2e-deploy.ts, for the export `Export` of a template with several exports:
 * the bucket, the bucket grant (Create) and that export's provider Create.
 */
async function deployNightlyExport(template: any, setup: (fake: FakeAws) => void): Promise<Deployed> {
  const fake = createFakeAws({ accountId: SAMPLE_ACCOUNT });
  const bucketId = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::S3::Bucket')!;
  const dep = new LocalDeployment(fake, template, { bucketNames: { [bucketId]: BUCKET } });
  dep.createBuckets();
  dep.registerStateMachines();
  fake.cfn.setStackStatus(dep.stackId, 'CREATE_IN_PROGRESS');
  fake.ec2.addInstance({ instanceId: SAMPLE_INSTANCE });
  fake.ec2.addInstance({ instanceId: OTHER_INSTANCE });
  setup(fake);
  await deliver(dep.createEvent(dep.only('Custom::VmExportBucketGrant')), (e) => bucketGrantOnEvent(e, fake.clients('bucket-grant').s3));
  const exportId = dep.logicalIdsOf('Custom::VmInstanceExport').find((id) => id.startsWith('Export'))!;
  const { answer, invocations } = await deliver(dep.createEvent(exportId), (e) => providerOnEvent(e, fake.clients('provider')));
  const response = { PhysicalResourceId: answer.PhysicalResourceId, Data: answer.Data } as Deployed['response'];
  return { fake, dep, exportId, response, answer, invocations };
}

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

beforeAll(() => {
  jest.spyOn(console, 'log').mockImplementation(() => undefined);
});

afterEach(() => {
  delete process.env[ENV_EXPORT_GRANTS];
});

test('an export through the second workflow completes, with the grants the template gives that workflow', async () => {
  const template = twoWorkflowStack();
  const resources = Object.entries<any>(template.Resources);
  const functionOf = (prefix: string) => resources.find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(prefix))!;

  // The export-task function of each workflow runs with its own grants.
  let grants: Record<string, string> = {};
  const d = await deployNightlyExport(template, () => {
    // Literal instance ids: the variables are plain strings in the template.
    grants = {
      shared: functionOf('VmExportWorkflowExportTaskFunction')[1].Properties.Environment.Variables[ENV_EXPORT_GRANTS],
      nightly: functionOf('NightlyWorkflowExportTaskFunction')[1].Properties.Environment.Variables[ENV_EXPORT_GRANTS],
    };
    // The local workflow calls the export-task handlers in this process: give them the
    // environment of the function of the workflow the export uses.
    process.env[ENV_EXPORT_GRANTS] = grants.nightly;
  });
  expect(grants).toEqual({
    shared: '{"anyInstance":false,"instances":["i-0fedcba9876543210"],"tags":[]}',
    nightly: '{"anyInstance":false,"instances":["i-0123456789abcdef0"],"tags":[]}',
  });
  await d.fake.settle();

  // The execution ran on the second workflow's state machine and succeeded.
  const execution = d.fake.sfn.execution(d.response.PhysicalResourceId);
  const nightlyMachine = d.dep.properties(d.exportId).StateMachineArn;
  expect(execution.stateMachineArn).toBe(nightlyMachine);
  expect(nightlyMachine).toMatch(/NightlyWorkflowStateMachine/);
  expect(execution.status).toBe('SUCCEEDED');
  const signal = onlySignal(d);
  expect(signal.Status).toBe('SUCCESS');
  expect(signalled(signal).key).toMatch(/^vms\/export-i-[0-9a-f]{17}\.ova$/);

  // The provider's deployed policy allows StartExecution on that state machine (the second one
  // it learned of; the shared workflow's came first), and Describe/Stop on its executions.
  const [, providerPolicy] = resources.find(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith('VmExportCustomResourcesHandlerRoleDefaultPolicy'))!;
  const statements = evaluateCfn(providerPolicy.Properties.PolicyDocument.Statement, d.dep.context()) as any[];
  const resourcesFor = (action: string) => statements.filter((s) => list(s.Action).includes(action)).flatMap((s) => list<string>(s.Resource));
  expect(resourcesFor('states:StartExecution')).toEqual([
    expect.stringMatching(/:stateMachine:VmExportWorkflowStateMachine/),
    execution.stateMachineArn,
  ]);
  const stopPatterns = resourcesFor('states:StopExecution').map((r) => new RegExp(`^${r.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\*/g, '.*')}$`));
  expect(stopPatterns.some((p) => p.test(execution.executionArn))).toBe(true);
});

test('the second workflow refuses, in Prepare, the instance only the shared workflow was granted', async () => {
  const template = twoWorkflowStack();
  const d = await deployNightlyExport(template, () => {
    // The nightly workflow's grants: only the export's instance.
    process.env[ENV_EXPORT_GRANTS] = '{"anyInstance":false,"instances":["i-0123456789abcdef0"],"tags":[]}';
  });
  await d.fake.settle();
  expect(onlySignal(d).Status).toBe('SUCCESS');

  // A direct start of the nightly workflow for the other instance.
  const tasksBefore = d.fake.ec2.tasks.size;
  const nightlyMachine = d.dep.properties(d.exportId).StateMachineArn;
  const started = await d.fake.clients('provider').sfn.send(new StartExecutionCommand({
    stateMachineArn: nightlyMachine,
    name: 'direct-start',
    input: JSON.stringify({ instanceId: 'i-0fedcba9876543210', targetEnvironment: 'vmware', s3Bucket: 'e2e-vm-exports', preflight: false }),
  }));
  await d.fake.settle();
  const execution = d.fake.sfn.execution(started.executionArn!);
  expect(execution.status).toBe('FAILED');
  expect(execution.error).toBe('VmExport.InvalidInput');
  expect(execution.cause).toContain('This export workflow may not export instance i-0fedcba9876543210: it was not granted to the workflow.');
  expect(execution.cause).toContain("workflow.grantExportOf('i-0fedcba9876543210')");
  // Nothing was started for it.
  expect(d.fake.ec2.tasks.size).toBe(tasksBefore);
});
