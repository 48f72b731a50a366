/**
 * A tiny evaluator for the CloudFormation expressions the library emits for values that are
 * only known at deploy time (conditions on AWS::Region, Fn::If, Fn::Equals, Fn::Or, Fn::Not,
 * Fn::And, Fn::Join, Fn::Select, Fn::Split, Ref of pseudo parameters). Test code only: it lets
 * a test ask "what would this template value be when deployed in region X".
 */
export interface CfnEvalContext {
  readonly region: string;
  readonly partition?: string;
  readonly accountId?: string;
  /** The template's Conditions section. */
  readonly conditions?: Record<string, unknown>;
  /** Values for other Refs / GetAtts, keyed by logical id or `LogicalId.Attr`. */
  readonly refs?: Record<string, unknown>;
}

export function evaluateCfn(expr: unknown, ctx: CfnEvalContext): unknown {
  if (Array.isArray(expr)) {
    return expr.map((e) => evaluateCfn(e, ctx));
  }
  if (expr === null || typeof expr !== 'object') {
    return expr;
  }
  const obj = expr as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length !== 1) {
    return Object.fromEntries(keys.map((k) => [k, evaluateCfn(obj[k], ctx)]));
  }
  const [fn] = keys;
  const arg = obj[fn];
  switch (fn) {
    case 'Ref':
      return ref(arg as string, ctx);
    case 'Condition':
      return condition(arg as string, ctx);
    case 'Fn::If': {
      const [cond, whenTrue, whenFalse] = arg as [string, unknown, unknown];
      return condition(cond, ctx) ? evaluateCfn(whenTrue, ctx) : evaluateCfn(whenFalse, ctx);
    }
    case 'Fn::Equals': {
      const [a, b] = arg as [unknown, unknown];
      return evaluateCfn(a, ctx) === evaluateCfn(b, ctx);
    }
    case 'Fn::Or':
      return (arg as unknown[]).some((c) => Boolean(evaluateCfn(c, ctx)));
    case 'Fn::And':
      return (arg as unknown[]).every((c) => Boolean(evaluateCfn(c, ctx)));
    case 'Fn::Not':
      return !evaluateCfn((arg as unknown[])[0], ctx);
    case 'Fn::Join': {
      const [sep, parts] = arg as [string, unknown[]];
      return (evaluateCfn(parts, ctx) as unknown[]).join(sep);
    }
    case 'Fn::Split': {
      const [sep, source] = arg as [string, unknown];
      return String(evaluateCfn(source, ctx)).split(sep);
    }
    case 'Fn::Select': {
      const [index, list] = arg as [unknown, unknown];
      return (evaluateCfn(list, ctx) as unknown[])[Number(evaluateCfn(index, ctx))];
    }
    case 'Fn::GetAtt': {
      const [id, attr] = arg as [string, string];
      return lookup(`${id}.${attr}`, ctx);
    }
    default:
      return Object.fromEntries(keys.map((k) => [k, evaluateCfn(obj[k], ctx)]));
  }
}

function ref(name: string, ctx: CfnEvalContext): unknown {
  switch (name) {
    case 'AWS::Region':
      return ctx.region;
    case 'AWS::Partition':
      return ctx.partition ?? 'aws';
    case 'AWS::AccountId':
      return ctx.accountId ?? '123456789012';
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    default:
      return lookup(name, ctx);
  }
}

function condition(name: string, ctx: CfnEvalContext): boolean {
  const expr = ctx.conditions?.[name];
  if (expr === undefined) {
    throw new Error(`condition ${name} is not in the template`);
  }
  return Boolean(evaluateCfn(expr, ctx));
}

function lookup(key: string, ctx: CfnEvalContext): unknown {
  if (!ctx.refs || !(key in ctx.refs)) {
    throw new Error(`no value for ${key} in the evaluation context`);
  }
  return ctx.refs[key];
}
