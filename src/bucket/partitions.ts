import { Stack, Token } from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { IConstruct } from 'constructs';
import { DEFAULT_CANONICAL_ID, PARTITIONS_WITHOUT_CANONICAL_ID, partitionWithoutCanonicalId } from './canonical-id-table';

/**
 * The partition of a concrete region code when it is one without a documented VM Import/Export
 * canonical ID (aws-eusc, aws-iso*), else undefined. aws-cdk-lib's region table decides for the
 * regions it knows; the code's prefix (`eusc-`, `us-iso-`, `us-isob-`, ...) for newer ones.
 */
export function undocumentedPartitionOf(region: string): string | undefined {
  if (Token.isUnresolved(region)) {
    return undefined;
  }
  const known = RegionInfo.get(region).partition;
  if (known !== undefined) {
    return PARTITIONS_WITHOUT_CANONICAL_ID.includes(known) ? known : undefined;
  }
  return partitionWithoutCanonicalId(region);
}

/** Why the default canonical ID is refused in `region` of `partition`, and the fix. */
export function undocumentedPartitionMessage(region: string, partition: string, fix: string): string {
  return `region ${region} is in partition ${partition}, for which AWS documents no VM Import/Export canonical ID; ` +
    `the commercial default (${DEFAULT_CANONICAL_ID}) is almost certainly wrong there and the library does not guess. ` +
    `Ask AWS for the VM Import/Export canonical ID of ${partition} and ${fix}.`;
}

/**
 * The synth-time error of a construct that would default the canonical ID (`prop` unset) in a
 * stack whose concrete region lies in a partition without a documented ID; empty otherwise
 * (an explicit ID, a commercial region, or an environment-agnostic stack, which the bucket
 * grant handler checks at deploy time).
 */
export function validateDefaultCanonicalId(scope: IConstruct, prop: string, canonicalId: string | undefined): string[] {
  if (canonicalId !== undefined) {
    return [];
  }
  const region = Stack.of(scope).region;
  const partition = undocumentedPartitionOf(region);
  if (partition === undefined) {
    return [];
  }
  return [`${prop} is not set and ${undocumentedPartitionMessage(region, partition, `pass it as ${prop}`)}`];
}
