/**
 * Lambda invocations per custom resource event (issue 12: the custom resources do not go
 * through the Provider framework; CloudFormation invokes the handler itself, once per event).
 *
 * Static proof, in both kinds of stack: every custom resource of the bench stack (a
 * VmExportBucket and one InstanceExport) has as ServiceToken `Fn::GetAtt [<id>, Arn]` of an
 * AWS::Lambda::Function of the template whose code is one of the library's handler bundles
 * (assets/lambda/<name>/index), and that function cannot invoke another function of the stack
 * (no environment variable naming one, no policy statement allowing lambda:InvokeFunction on
 * one). Invocations per event = the functions of the longest invocation chain from the service
 * token's function: 1 for a handler that answers CloudFormation itself; a Provider framework
 * function in front of a handler makes it 2.
 *
 * Dynamic count, in both kinds of stack (the environment-agnostic one deployed in us-east-1): a Create, an Update (same properties) and a
 * Delete of each custom resource, delivered as CloudFormation and Lambda deliver them
 * (test/support/fake-aws/custom-resource.ts `invokeCustomResource`, which counts the Lambda
 * invocations of each event) to the handler the service token names, against the local AWS
 * stand-in (test/support/fake-aws).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { Section, Verdict, verdictCell } from './table';
import { StackKind, STACK_KINDS, buildExportStack, instanceId } from './template-growth';

export const INVOCATION_BUDGETS = {
  /** Lambda invocations per custom resource event: 1 (CloudFormation invokes the handler itself). */
  PER_EVENT: 1,
} as const;

const ROOT = path.join(__dirname, '..');
const HANDLER_ASSETS = path.join(ROOT, 'assets', 'lambda');
const LAMBDA_FUNCTION = 'AWS::Lambda::Function';
/** Actions that allow lambda:InvokeFunction. */
const INVOKE_ACTIONS = ['lambda:invokefunction', 'lambda:invoke*', 'lambda:*', '*'];
/** The exports of the bench stack (the custom resources are the same for any number). */
const BENCH_EXPORTS = 1;

/** True for a custom resource type. */
export function isCustomResource(type: string): boolean {
  return type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource';
}

/** Logical ids a template value refers to (Ref, Fn::GetAtt, `${Id}` / `${Id.Attr}` in Fn::Sub). */
export function referencedIds(value: unknown, into: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) {
    for (const v of value) referencedIds(v, into);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'Ref' && typeof v === 'string') {
        into.add(v);
      } else if (key === 'Fn::GetAtt' && Array.isArray(v) && typeof v[0] === 'string') {
        into.add(v[0]);
      } else if (key === 'Fn::GetAtt' && typeof v === 'string') {
        into.add(v.split('.')[0]);
      } else if (key === 'Fn::Sub') {
        const text = Array.isArray(v) ? v[0] : v;
        if (typeof text === 'string') {
          for (const m of text.matchAll(/\$\{([^!}.]+)(\.[^}]*)?\}/g)) into.add(m[1]);
        }
        referencedIds(Array.isArray(v) ? v[1] : undefined, into);
      } else {
        referencedIds(v, into);
      }
    }
  }
  return into;
}

/** The statements of the identity policies attached to a role (inline, AWS::IAM::Policy, managed policies of the stack). */
function roleStatements(template: any, roleId: string): any[] {
  const resources = template.Resources ?? {};
  const statements: any[] = [];
  const list = (s: unknown) => (Array.isArray(s) ? s : s ? [s] : []);
  for (const policy of resources[roleId]?.Properties?.Policies ?? []) {
    statements.push(...list(policy.PolicyDocument?.Statement));
  }
  for (const resource of Object.values<any>(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy' && resource.Type !== 'AWS::IAM::ManagedPolicy') continue;
    if (!referencedIds(resource.Properties?.Roles ?? []).has(roleId)) continue;
    statements.push(...list(resource.Properties?.PolicyDocument?.Statement));
  }
  const managed = referencedIds(resources[roleId]?.Properties?.ManagedPolicyArns ?? []);
  for (const id of managed) {
    if (resources[id]?.Type === 'AWS::IAM::ManagedPolicy') statements.push(...list(resources[id].Properties?.PolicyDocument?.Statement));
  }
  return statements;
}

/** The other functions of the stack a function can invoke: named in its environment, or allowed by its role's policies. */
export function invokableFunctions(template: any, functionId: string): string[] {
  const resources = template.Resources ?? {};
  const others = Object.entries<any>(resources).filter(([id, r]) => r.Type === LAMBDA_FUNCTION && id !== functionId).map(([id]) => id);
  const fn = resources[functionId];
  const found = new Set<string>();
  const env = referencedIds(fn?.Properties?.Environment ?? {});
  for (const id of others) if (env.has(id)) found.add(id);
  const roleId = [...referencedIds(fn?.Properties?.Role ?? {})][0];
  if (roleId) {
    for (const st of roleStatements(template, roleId)) {
      if ((st.Effect ?? 'Allow') !== 'Allow') continue;
      const actions = (Array.isArray(st.Action) ? st.Action : [st.Action]).filter((a: unknown) => typeof a === 'string');
      if (!actions.some((a: string) => INVOKE_ACTIONS.includes(a.toLowerCase()))) continue;
      const targets = Array.isArray(st.Resource) ? st.Resource : [st.Resource];
      const anyFunction = targets.some((t: unknown) => typeof t === 'string' && (t === '*' || /:function:\*|:lambda:.*\*/.test(t)));
      const named = referencedIds(targets);
      for (const id of others) if (anyFunction || named.has(id)) found.add(id);
    }
  }
  return [...found].sort();
}

/** The functions of the longest invocation chain starting at `functionId` (1 when it invokes nothing). */
export function invocationChain(template: any, functionId: string, seen: Set<string> = new Set()): number {
  if (seen.has(functionId)) return 0;
  const next = new Set(seen).add(functionId);
  return 1 + Math.max(0, ...invokableFunctions(template, functionId).map((id) => invocationChain(template, id, next)));
}

/**
 * The library's handler bundle each asset of the assembly is (by S3 object key): a staged asset
 * whose index.js is byte for byte assets/lambda/<name>/index/index.js.
 */
export function handlerAssetsByObjectKey(outdir: string): Map<string, string> {
  const bundles = fs.existsSync(HANDLER_ASSETS)
    ? fs.readdirSync(HANDLER_ASSETS)
      .map((name) => ({ name, file: path.join(HANDLER_ASSETS, name, 'index', 'index.js') }))
      .filter((b) => fs.existsSync(b.file))
      .map((b) => ({ name: b.name, code: fs.readFileSync(b.file) }))
    : [];
  const byKey = new Map<string, string>();
  for (const manifest of fs.readdirSync(outdir).filter((f) => f.endsWith('.assets.json'))) {
    const files = JSON.parse(fs.readFileSync(path.join(outdir, manifest), 'utf8')).files ?? {};
    for (const asset of Object.values<any>(files)) {
      const staged = path.join(outdir, String(asset.source?.path ?? ''), 'index.js');
      if (!asset.source?.path || !fs.existsSync(staged)) continue;
      const code = fs.readFileSync(staged);
      const bundle = bundles.find((b) => b.code.equals(code));
      if (!bundle) continue;
      for (const destination of Object.values<any>(asset.destinations ?? {})) {
        if (typeof destination.objectKey === 'string') byKey.set(destination.objectKey, bundle.name);
      }
    }
  }
  return byKey;
}

/** How CloudFormation reaches the handler of one custom resource. */
export interface CustomResourceRoute {
  readonly logicalId: string;
  readonly type: string;
  /** The AWS::Lambda::Function the ServiceToken names (Fn::GetAtt [id, Arn]). */
  readonly functionId?: string;
  /** The library handler bundle that function runs. */
  readonly handler?: string;
  /** Other functions of the stack the service token's function can invoke. */
  readonly invokes: string[];
  /** Lambda invocations per event (functions of the longest invocation chain); NaN when not a function of the stack. */
  readonly invocationsPerEvent: number;
  readonly problems: string[];
}

/** The route of every custom resource of a synthesized template. */
export function customResourceRoutes(template: any, handlers: Map<string, string>): CustomResourceRoute[] {
  const resources = template.Resources ?? {};
  const routes: CustomResourceRoute[] = [];
  for (const [logicalId, resource] of Object.entries<any>(resources)) {
    if (!isCustomResource(resource.Type)) continue;
    const problems: string[] = [];
    const token = resource.Properties?.ServiceToken;
    const getAtt = token && typeof token === 'object' && Object.keys(token).length === 1 ? token['Fn::GetAtt'] : undefined;
    const functionId = Array.isArray(getAtt) && getAtt.length === 2 && getAtt[1] === 'Arn' && resources[getAtt[0]]?.Type === LAMBDA_FUNCTION
      ? String(getAtt[0]) : undefined;
    if (!functionId) {
      problems.push(`ServiceToken ${JSON.stringify(token)} is not Fn::GetAtt [<function>, Arn] of an ${LAMBDA_FUNCTION} of the stack`);
      routes.push({ logicalId, type: resource.Type, invokes: [], invocationsPerEvent: NaN, problems });
      continue;
    }
    const code = resources[functionId].Properties?.Code ?? {};
    const handler = typeof code.S3Key === 'string' ? handlers.get(code.S3Key) : undefined;
    if (!handler) problems.push(`${functionId} does not run a handler bundle of the library (code ${JSON.stringify(code.S3Key ?? code)})`);
    const invokes = invokableFunctions(template, functionId);
    if (invokes.length > 0) problems.push(`${functionId} can invoke ${invokes.join(', ')}`);
    const invocationsPerEvent = invocationChain(template, functionId);
    routes.push({ logicalId, type: resource.Type, functionId, handler, invokes, invocationsPerEvent, problems });
  }
  return routes;
}

/** Synthesizes the bench stack and returns its template and the routes of its custom resources. */
export function synthRoutes(kind: StackKind): { template: any; handlers: Map<string, string>; routes: CustomResourceRoute[] } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-vm-export-bench-'));
  try {
    const app = new App({ outdir });
    const stack = buildExportStack(app, BENCH_EXPORTS, kind);
    const template = app.synth().getStackByName(stack.stackName).template;
    const handlers = handlerAssetsByObjectKey(outdir);
    return { template, handlers, routes: customResourceRoutes(template, handlers) };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

/** What one event needed: Lambda invocations, and the status CloudFormation received. */
export interface EventCount {
  readonly invocations: number;
  readonly status: string;
}

/** Invocations of the Create, Update and Delete of each custom resource, by logical id. */
export type DynamicCounts = Map<string, Partial<Record<'Create' | 'Update' | 'Delete', EventCount>>>;

/** Resources in an order CloudFormation may create them (dependencies first). */
function creationOrder(template: any): string[] {
  const resources = template.Resources ?? {};
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string) => {
    if (state.get(id) === 'done' || state.get(id) === 'visiting' || !resources[id]) return;
    state.set(id, 'visiting');
    const r = resources[id];
    const deps = new Set([...referencedIds(r.Properties ?? {}), ...(Array.isArray(r.DependsOn) ? r.DependsOn : r.DependsOn ? [r.DependsOn] : [])]);
    for (const dep of [...deps].sort()) visit(dep);
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of Object.keys(resources).sort()) visit(id);
  return order;
}

/**
 * Delivers a Create, an Update (same properties) and a Delete of every custom resource of the
 * template to the handler its service token names, against the local AWS stand-in, and returns
 * the invocations each event needed. Creates go in dependency order (the export's workflow runs
 * to its signal before the attributes resource reads the wait condition's Data), deletes in the
 * reverse order.
 */
export async function countInvocations(template: any, routes: CustomResourceRoute[]): Promise<DynamicCounts> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  /* eslint-disable @typescript-eslint/no-require-imports */
  // Loaded here: the handler modules create default SDK clients at import time, and the fake
  // is test code only the dynamic count needs.
  const fakeAws = require('../test/support/fake-aws') as typeof import('../test/support/fake-aws');
  const { LocalDeployment } = require('../test/support/fake-aws/deployment') as typeof import('../test/support/fake-aws/deployment');
  const { invokeCustomResource } = require('../test/support/fake-aws/custom-resource') as typeof import('../test/support/fake-aws/custom-resource');
  const bucketGrant = require('../lambda/bucket-grant') as typeof import('../lambda/bucket-grant');
  const provider = require('../lambda/export-provider') as typeof import('../lambda/export-provider');
  /* eslint-enable @typescript-eslint/no-require-imports */

  const fake = fakeAws.createFakeAws({ region: 'us-east-1', accountId: '123456789012' });
  const dep = new LocalDeployment(fake, template, { stackName: 'BenchExports' });
  // The custom-resource bundle's routing (lambda/custom-resource), with the fake's clients.
  const onEvents: Record<string, (event: CloudFormationCustomResourceEvent) => Promise<any>> = {
    'custom-resource': (event) => (event.ResourceType === 'Custom::VmExportBucketGrant'
      ? bucketGrant.onEvent(event, fake.clients('bucket-grant').s3)
      : provider.onEvent(event, fake.clients('provider'))),
  };
  for (let i = 1; i <= BENCH_EXPORTS; i++) fake.ec2.addInstance({ instanceId: instanceId(i) });
  dep.createBuckets();
  dep.registerStateMachines();

  const byId = new Map(routes.map((r) => [r.logicalId, r]));
  const ids = creationOrder(template).filter((id) => byId.get(id)?.handler && onEvents[byId.get(id)!.handler!]);
  const counts: DynamicCounts = new Map(ids.map((id) => [id, {}]));
  const physicalIds = new Map<string, string>();
  const oldProperties = new Map<string, Record<string, any>>();
  /** `Fn::GetAtt <WaitCondition>.Data` as CloudFormation returns it once the signals arrived. */
  const readWaitConditions = () => {
    const data = JSON.stringify(Object.fromEntries(fake.signals.filter((s) => s.body.Status === 'SUCCESS').map((s) => [s.body.UniqueId, s.body.Data])));
    for (const id of dep.logicalIdsOf('AWS::CloudFormation::WaitCondition')) dep.refs[`${id}.Data`] = data;
  };
  const deliver = async (id: string, requestType: 'Create' | 'Update' | 'Delete') => {
    readWaitConditions();
    const event = requestType === 'Create' ? dep.createEvent(id)
      : requestType === 'Update' ? dep.updateEvent(id, physicalIds.get(id)!, oldProperties.get(id)!)
        : dep.deleteEvent(id, physicalIds.get(id)!);
    const record = await invokeCustomResource(event, onEvents[byId.get(id)!.handler!]);
    const response = record.response;
    counts.get(id)![requestType] = {
      invocations: record.invocations,
      status: response ? `${response.Status}${response.Status === 'FAILED' ? `: ${response.Reason.split('\n')[0]}` : ''}` : 'no answer',
    };
    if (response?.Status === 'SUCCESS' && requestType !== 'Delete') {
      physicalIds.set(id, response.PhysicalResourceId);
      oldProperties.set(id, event.ResourceProperties);
      // What CloudFormation answers for Ref and Fn::GetAtt of the resource from then on.
      dep.refs[id] = response.PhysicalResourceId;
      for (const [key, value] of Object.entries(response.Data ?? {})) dep.refs[`${id}.${key}`] = value;
    }
    // The workflow an export started runs to its signal before the next resource.
    await fake.settle();
  };

  const log = console.log;
  console.log = () => undefined; // the handlers log one JSON line per step
  try {
    fake.cfn.setStackStatus(dep.stackId, 'CREATE_IN_PROGRESS');
    for (const id of ids) await deliver(id, 'Create');
    fake.cfn.setStackStatus(dep.stackId, 'UPDATE_IN_PROGRESS');
    for (const id of ids) if (physicalIds.has(id)) await deliver(id, 'Update');
    fake.cfn.setStackStatus(dep.stackId, 'DELETE_IN_PROGRESS');
    for (const id of [...ids].reverse()) if (physicalIds.has(id)) await deliver(id, 'Delete');
  } finally {
    console.log = log;
  }
  return counts;
}

/** How long the delivered count may take (it takes a few seconds; a workflow that never ends must not hang CI). */
const DYNAMIC_TIMEOUT_MS = 60_000;

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`did not finish within ${ms / 1000} s`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function fmt(n: number): string {
  return Number.isNaN(n) ? 'unknown' : String(n);
}

/** The invocations benchmark. */
export async function measureInvocations(): Promise<Section> {
  const verdicts: Verdict[] = [];
  const routeRows: string[][] = [];
  const functionRows: string[][] = [];
  const dynamicRows: string[][] = [];
  const problems: string[] = [];
  const dynamicErrors: string[] = [];

  for (const kind of STACK_KINDS) {
    const { template, handlers, routes } = synthRoutes(kind);
    const resources = template.Resources ?? {};
    let dynamic: DynamicCounts | undefined;
    try {
      dynamic = await withTimeout(countInvocations(template, routes), DYNAMIC_TIMEOUT_MS);
    } catch (err) {
      dynamicErrors.push(`${kind}: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
    }
    for (const r of routes) for (const p of r.problems) problems.push(`${kind}: ${r.type} ${r.logicalId}: ${p}`);

    const types = [...new Set(routes.map((r) => r.type))].sort();
    for (const type of types) {
      const ofType = routes.filter((r) => r.type === type);
      const staticCount = Math.max(...ofType.map((r) => r.invocationsPerEvent));
      const events = dynamic ? ofType.flatMap((r) => Object.values(dynamic!.get(r.logicalId) ?? {})) : [];
      const dynamicMax = events.length > 0 ? Math.max(...events.map((e) => e.invocations)) : undefined;
      const ok = staticCount <= INVOCATION_BUDGETS.PER_EVENT && ofType.every((r) => r.problems.length === 0)
        && (dynamicMax === undefined || dynamicMax <= INVOCATION_BUDGETS.PER_EVENT);
      routeRows.push([
        kind,
        type,
        String(ofType.length),
        [...new Set(ofType.map((r) => r.handler ?? 'not a library handler'))].join(', '),
        fmt(staticCount),
        dynamicMax === undefined ? '—' : String(dynamicMax),
        `≤ ${INVOCATION_BUDGETS.PER_EVENT}`,
        verdictCell(ok),
      ]);
      verdicts.push({
        budget: `${kind}: Lambda invocations per ${type} event ≤ ${INVOCATION_BUDGETS.PER_EVENT}`,
        measured: dynamicMax === undefined ? fmt(staticCount) : `${fmt(staticCount)} (template), ${dynamicMax} (delivered)`,
        ok,
      });
      if (dynamic) {
        for (const r of ofType) {
          const c = dynamic.get(r.logicalId) ?? {};
          const cell = (e?: EventCount) => (e ? `${e.invocations} (${e.status})` : 'not delivered');
          dynamicRows.push([kind, type, r.logicalId, cell(c.Create), cell(c.Update), cell(c.Delete)]);
        }
      }
    }

    for (const [id, fn] of Object.entries<any>(resources)) {
      if (fn.Type !== LAMBDA_FUNCTION) continue;
      const serves = routes.filter((r) => r.functionId === id);
      const key = fn.Properties?.Code?.S3Key;
      const handler = (typeof key === 'string' ? handlers.get(key) : undefined) ?? 'not a library bundle';
      const invokes = invokableFunctions(template, id);
      functionRows.push([
        kind,
        id,
        handler,
        serves.length > 0 ? [...new Set(serves.map((r) => r.type))].sort().join(', ') : '—',
        invokes.length > 0 ? invokes.join(', ') : 'none',
      ]);
    }
  }

  const tables = [
    {
      headers: ['stack', 'custom resource type', 'resources', 'handler (ServiceToken)', 'invocations per event (template)',
        'invocations per event (delivered, max)', 'budget', 'verdict'],
      rows: routeRows,
      alignRight: [false, false, true, false, true, true, true, false],
    },
    {
      headers: ['stack', 'Lambda function', 'handler bundle', 'ServiceToken of', 'can invoke'],
      rows: functionRows,
      alignRight: [false, false, false, false, false],
    },
  ];
  if (dynamicRows.length > 0) {
    tables.push({
      headers: ['stack', 'custom resource type', 'resource', 'Create: invocations', 'Update: invocations', 'Delete: invocations'],
      rows: dynamicRows,
      alignRight: [false, false, false, true, true, true],
    });
  }
  const notes = [
    `Bench stack: one VmExportBucket and ${BENCH_EXPORTS} InstanceExport (VMware, default options), synthesized in both kinds of stack. ` +
    'A custom resource counts 1 invocation per event when its ServiceToken is Fn::GetAtt [<function>, Arn] of a function of the stack ' +
    'that runs a handler bundle of the library (assets/lambda/<name>/index, matched byte for byte with the staged asset) and can invoke ' +
    'no other function (no environment variable naming one, no policy statement allowing lambda:InvokeFunction on one); ' +
    'otherwise it counts the functions of the longest invocation chain (a Provider framework function in front of the handler: 2).',
    'Delivered: a Create, an Update with the same properties and a Delete of each custom resource, sent as CloudFormation and Lambda send them ' +
    '(test/support/fake-aws/custom-resource.ts invokeCustomResource: one asynchronous invocation, retried by Lambda when it fails) to the ' +
    'handler the ServiceToken names, against the local AWS stand-in (test/support/fake-aws); the export\'s workflow runs to its signal ' +
    'before the attributes resource is created; the environment-agnostic stack is deployed in us-east-1. ' +
    'Each cell: invocations (the answer CloudFormation received).',
  ];
  for (const error of dynamicErrors) {
    notes.push(`The delivered count could not run: ${error}`);
    verdicts.push({ budget: 'delivered count: every custom resource event delivered', measured: `error: ${error}`, ok: false });
  }
  for (const p of problems) notes.push(`Problem: ${p}`);
  return { title: 'Lambda invocations per custom resource event', tables, notes, verdicts };
}

