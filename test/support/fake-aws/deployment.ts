/**
 * TEST CODE ONLY: plays CloudFormation's part for a synthesized template against the fake:
 * gives every resource a deploy-time value (bucket names, the wait condition handle URL, ARNs),
 * evaluates custom resource properties and outputs with test/support/cfn-eval.ts, creates the
 * template's buckets in the fake S3, registers the template's state machine with the fake Step
 * Functions, and builds custom resource events.
 */
import type {
  CloudFormationCustomResourceCreateEvent,
  CloudFormationCustomResourceDeleteEvent,
  CloudFormationCustomResourceUpdateEvent,
} from 'aws-lambda';
import type { FakeAws } from './index';
import { CfnEvalContext, evaluateCfn } from '../cfn-eval';
import { stateMachineDefinitions } from '../local-sfn';

export interface DeploymentOptions {
  /** @default 'E2eStack' */
  readonly stackName?: string;
  /** Physical names of buckets by logical id (others get a lower-case name from the logical id). */
  readonly bucketNames?: Record<string, string>;
}

type Json = any;

/** Definitions per template object and environment: the fake validates each object once. */
const DEFINITIONS = new WeakMap<object, Map<string, Record<string, any>>>();

/** The presigned URL a wait condition handle gets (its Ref and physical id). */
export function handleUrl(region: string, accountId: string, stackName: string, logicalId: string): string {
  return `https://cloudformation-waitcondition-${region}.s3.${region}.amazonaws.com/arn%3Aaws%3Acloudformation%3A${region}%3A${accountId}%3Astack/${stackName}/${logicalId}?X-Amz-Signature=fake`;
}

export class LocalDeployment {
  public readonly stackId: string;
  public readonly stackName: string;
  public readonly refs: Record<string, unknown> = {};
  /** The physical bucket names given (to deploy another version of the template alike). */
  public readonly bucketNames: Record<string, string>;
  private requestCounter = 0;

  constructor(public readonly fake: FakeAws, public readonly template: Json, options: DeploymentOptions = {}) {
    const { region, accountId } = fake.world;
    this.stackName = options.stackName ?? 'E2eStack';
    this.bucketNames = options.bucketNames ?? {};
    this.stackId = `arn:aws:cloudformation:${region}:${accountId}:stack/${this.stackName}/00000000-0000-0000-0000-000000000001`;
    for (const [id, resource] of Object.entries<Json>(template.Resources ?? {})) {
      const type: string = resource.Type;
      switch (type) {
        case 'AWS::S3::Bucket': {
          const name = options.bucketNames?.[id] ?? resource.Properties?.BucketName ?? `${this.stackName}-${id}`.toLowerCase().slice(0, 63);
          this.refs[id] = name;
          this.refs[`${id}.Arn`] = `arn:aws:s3:::${name}`;
          break;
        }
        case 'AWS::CloudFormation::WaitConditionHandle':
          // The Ref and the physical id of a handle are its presigned URL.
          this.refs[id] = handleUrl(region, accountId, this.stackName, id);
          fake.cfn.putResource(this.stackId, id, String(this.refs[id]));
          break;
        case 'AWS::StepFunctions::StateMachine':
          this.refs[id] = `arn:aws:states:${region}:${accountId}:stateMachine:${id}`;
          this.refs[`${id}.Arn`] = this.refs[id];
          this.refs[`${id}.Name`] = id;
          break;
        case 'AWS::Lambda::Function':
          this.refs[id] = id;
          this.refs[`${id}.Arn`] = `arn:aws:lambda:${region}:${accountId}:function:${id}`;
          break;
        default:
          this.refs[id] = id;
          this.refs[`${id}.Arn`] = `arn:aws:${type.split('::')[1]?.toLowerCase()}:${region}:${accountId}:${id}`;
      }
    }
  }

  /** The context cfn-eval needs (region, conditions, the values above plus `extra`). */
  public context(extra: Record<string, unknown> = {}): CfnEvalContext {
    return {
      region: this.fake.world.region,
      accountId: this.fake.world.accountId,
      conditions: this.template.Conditions ?? {},
      refs: { ...this.refs, 'AWS::StackId': this.stackId, 'AWS::StackName': this.stackName, ...extra },
    };
  }

  /** Logical ids of the resources of a type. */
  public logicalIdsOf(type: string): string[] {
    return Object.entries<Json>(this.template.Resources ?? {}).filter(([, r]) => r.Type === type).map(([id]) => id);
  }

  /** The one resource of a type. */
  public only(type: string): string {
    const ids = this.logicalIdsOf(type);
    if (ids.length !== 1) throw new Error(`expected one ${type}, found ${ids.join(', ') || 'none'}`);
    return ids[0];
  }

  /** A resource's properties as CloudFormation would pass them (deploy-time values resolved). */
  public properties(logicalId: string): Record<string, any> {
    return evaluateCfn(this.template.Resources[logicalId].Properties ?? {}, this.context()) as Record<string, any>;
  }

  /** An output's value; `extra` supplies attributes only known later (e.g. `<WaitCondition>.Data`). */
  public output(name: string, extra: Record<string, unknown> = {}): unknown {
    return evaluateCfn(this.template.Outputs[name].Value, this.context(extra));
  }

  /** Creates every bucket of the template in the fake S3 with its ownership and encryption settings. */
  public createBuckets(): void {
    for (const id of this.logicalIdsOf('AWS::S3::Bucket')) {
      const props = this.template.Resources[id].Properties ?? {};
      this.fake.s3.createBucket(String(this.refs[id]), {
        ownership: props.OwnershipControls?.Rules?.[0]?.ObjectOwnership ?? null,
        encryption: props.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault?.SSEAlgorithm ?? null,
      });
    }
  }

  /** Registers the template's state machines (definitions taken from the template). */
  public registerStateMachines(): void {
    const { region, accountId } = this.fake.world;
    const key = `${region}|${accountId}|${this.stackName}`;
    let byTemplate = DEFINITIONS.get(this.template);
    if (!byTemplate) DEFINITIONS.set(this.template, byTemplate = new Map());
    let definitions = byTemplate.get(key);
    if (!definitions) {
      definitions = stateMachineDefinitions(this.template, { region, account: accountId, stackName: this.stackName });
      byTemplate.set(key, definitions);
    }
    for (const [id, definition] of Object.entries(definitions)) {
      this.fake.sfn.registerStateMachine(String(this.refs[id]), definition);
    }
    this.registerRules();
  }

  /**
   * Puts the template's EventBridge rules that target a Lambda function on the fake bus (the
   * only such rule is the signal backstop, whose target is the export-task function).
   */
  public registerRules(): void {
    for (const id of this.logicalIdsOf('AWS::Events::Rule')) {
      const props = this.properties(id);
      const lambdaTargets = (props.Targets ?? []).filter((t: any) => /:lambda:/.test(String(t.Arn)));
      if (!props.EventPattern || lambdaTargets.length === 0 || this.fake.events.rules.some((r) => r.name === id)) continue;
      this.fake.events.putRule({ name: id, pattern: props.EventPattern, target: (event) => this.fake.backstopTarget(event) });
    }
  }

  private common(logicalId: string, requestId?: string) {
    const props = this.properties(logicalId);
    return {
      ServiceToken: String(props.ServiceToken),
      ResponseURL: 'https://cloudformation-custom-resource-response.s3.amazonaws.com/fake?X-Amz-Signature=fake',
      StackId: this.stackId,
      RequestId: requestId ?? `request-${++this.requestCounter}`,
      LogicalResourceId: logicalId,
      ResourceType: this.template.Resources[logicalId].Type,
      ResourceProperties: props as any,
    };
  }

  public createEvent(logicalId: string, requestId?: string): CloudFormationCustomResourceCreateEvent {
    return { RequestType: 'Create', ...this.common(logicalId, requestId) };
  }

  public updateEvent(
    logicalId: string,
    physicalId: string,
    oldProperties: Record<string, any>,
    requestId?: string,
  ): CloudFormationCustomResourceUpdateEvent {
    return { RequestType: 'Update', PhysicalResourceId: physicalId, OldResourceProperties: oldProperties as any, ...this.common(logicalId, requestId) };
  }

  public deleteEvent(logicalId: string, physicalId: string, requestId?: string): CloudFormationCustomResourceDeleteEvent {
    return { RequestType: 'Delete', PhysicalResourceId: physicalId, ...this.common(logicalId, requestId) };
  }
}
