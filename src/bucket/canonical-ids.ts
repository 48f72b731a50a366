import { CfnCondition, Fn, IResolvable, Stack, Token } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { CANONICAL_ID_ROWS, DEFAULT_CANONICAL_ID, canonicalIdForRegion } from './canonical-id-table';
import { undocumentedPartitionMessage, undocumentedPartitionOf } from './partitions';

const CONDITIONS_ID = 'VmExportCanonicalIdConditions';
/** A region code: lowercase letters in two or more dash-separated groups, then a number (`eu-south-1`, `us-gov-west-1`). */
const REGION_CODE = /^[a-z]{2,}(-[a-z]+)+-\d+$/;

/**
 * The canonical user IDs of the AWS VM Import/Export service account, per region.
 *
 * An export bucket must grant the ID of its own region READ_ACP on the bucket and WRITE.
 * China (Beijing, Ningxia) and AWS GovCloud (US) regions each share one ID; every region
 * the table does not list, including regions launched after this release, uses `DEFAULT`,
 * except the regions of partitions for which AWS documents no ID (the AWS European Sovereign
 * Cloud `aws-eusc`, the isolated `aws-iso*` partitions): there the library refuses to guess and
 * asks for an explicit ID.
 */
export class VmExportCanonicalIds {
  /** The canonical ID for every region that has no ID of its own. */
  public static readonly DEFAULT: string = DEFAULT_CANONICAL_ID;

  /**
   * The canonical ID for a region code known at synth time.
   *
   * @param region a region code such as `eu-south-1` (surrounding blanks and upper case are
   * ignored: `' EU-SOUTH-1'` is `eu-south-1`); not a token (use `of()` for a stack whose region is
   * only known at deploy time)
   * @returns the region's ID, or `DEFAULT` for a well-formed region code the table does not list
   * @throws for a string that is not a region code (`''`, `eu_south_1`, `Europe (Milan)`,
   * `eu-south`, ...), and for a region of a partition without a documented ID
   * (`eusc-de-east-1`, `us-iso-east-1`, `us-isob-east-1`, ...): pass the ID AWS gives for it
   * explicitly instead
   */
  public static forRegion(region: string): string {
    if (Token.isUnresolved(region)) {
      throw new Error(
        'VmExportCanonicalIds.forRegion(): the region is a token (an environment-agnostic stack). ' +
        'Use VmExportCanonicalIds.of(scope), which resolves the ID at deploy time.',
      );
    }
    const given = region;
    region = typeof region === 'string' ? region.trim().toLowerCase() : region;
    if (typeof region !== 'string' || !REGION_CODE.test(region)) {
      throw new Error(`VmExportCanonicalIds.forRegion(${JSON.stringify(given) ?? String(given)}): not a region code. ` +
        'Pass a code such as \'eu-south-1\' (lowercase letters and a number, separated by dashes), not a name, an ' +
        'availability zone or an empty string; the default ID is only for well-formed codes the table does not list.');
    }
    const partition = undocumentedPartitionOf(region);
    if (partition !== undefined) {
      throw new Error(`VmExportCanonicalIds.forRegion('${region}'): ${undocumentedPartitionMessage(region, partition,
        'pass it as canonicalId (VmExportBucket, VmExportBucket.fromBucketName) instead of looking it up')}`);
    }
    return canonicalIdForRegion(region);
  }

  /**
   * The canonical ID for the region of the scope's stack.
   *
   * A stack with a concrete region gets the literal ID. In an environment-agnostic stack
   * (region is a token) the result is a CloudFormation expression built from conditions on
   * `AWS::Region` (one condition per table row, added to the stack once), which resolves at
   * deploy time to the region's ID, or to `DEFAULT` in any region the table does not list.
   * No transform is added to the stack.
   *
   * A stack whose concrete region lies in a partition without a documented ID (`aws-eusc`,
   * `aws-iso*`) gets an error, as with `forRegion()`. In an environment-agnostic stack the
   * expression yields `DEFAULT` there too; the bucket grant refuses it at deploy time when the
   * bucket's canonical ID was defaulted.
   */
  public static of(scope: IConstruct): string {
    const stack = Stack.of(scope);
    if (!Token.isUnresolved(stack.region)) {
      return VmExportCanonicalIds.forRegion(stack.region);
    }
    const existing = stack.node.tryFindChild(CONDITIONS_ID) as CanonicalIdConditions | undefined;
    return (existing ?? new CanonicalIdConditions(stack, CONDITIONS_ID)).canonicalId;
  }

  /**
   * Every region code the table lists, in table order (22 codes).
   */
  public static knownRegions(): string[] {
    return CANONICAL_ID_ROWS.flatMap((row) => row.regions);
  }

  private constructor() {}
}

/**
 * One condition per table row (`AWS::Region` equals one of the row's codes) and the
 * `Fn::If` chain over them that yields the region's ID, with the default at the end.
 */
class CanonicalIdConditions extends Construct {
  public readonly canonicalId: string;

  constructor(scope: Stack, id: string) {
    super(scope, id);
    const regionIs = (region: string) => Fn.conditionEquals(Stack.of(this).region, region);
    const conditions = CANONICAL_ID_ROWS.map((row, index) => new CfnCondition(this, `Row${index}`, {
      expression: row.regions.length === 1
        ? regionIs(row.regions[0])
        : Fn.conditionOr(...row.regions.map(regionIs)),
    }));
    let value: string | IResolvable = DEFAULT_CANONICAL_ID;
    for (let i = CANONICAL_ID_ROWS.length - 1; i >= 0; i--) {
      value = Fn.conditionIf(conditions[i].logicalId, CANONICAL_ID_ROWS[i].canonicalId, value);
    }
    this.canonicalId = Token.asString(value);
  }
}
