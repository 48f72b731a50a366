/**
 * The region of a bucket from GetBucketLocation's LocationConstraint: S3 answers null or empty
 * for us-east-1 and `EU` for old eu-west-1 buckets.
 */
export function normalizeBucketRegion(location: string | undefined | null): string {
  if (!location) {
    return 'us-east-1';
  }
  return location === 'EU' ? 'eu-west-1' : location;
}
