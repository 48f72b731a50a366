import { Token } from 'aws-cdk-lib';
import { CANONICAL_ID_PATTERN } from '../internal';

/**
 * Synth-time checks shared by the constructs. Each returns the problems it found (empty when
 * the value is fine or is a token only known at deploy time); callers collect them all and
 * report them together.
 */


/** A canonical user ID is 64 lowercase hexadecimal characters. */
export function validateCanonicalId(prop: string, value: string | undefined): string[] {
  if (value === undefined || Token.isUnresolved(value) || CANONICAL_ID_PATTERN.test(value)) {
    return [];
  }
  return [
    `${prop} '${value}' is not a canonical user ID: it must be 64 lowercase hexadecimal characters. ` +
    'Omit it to use the VM Import/Export ID for the stack\'s region (VmExportCanonicalIds.of), ' +
    'or copy the ID from the VM Import/Export guide.',
  ];
}

/** S3 bucket naming rules for general purpose buckets. */
export function validateBucketName(prop: string, value: string | undefined): string[] {
  if (value === undefined || Token.isUnresolved(value)) {
    return [];
  }
  const problems: string[] = [];
  if (value.length < 3 || value.length > 63) {
    problems.push(`is ${value.length} characters long (3 to 63 allowed)`);
  }
  if (!/^[a-z0-9.-]*$/.test(value)) {
    problems.push('may only contain lowercase letters, digits, dots and hyphens');
  }
  if (!/^[a-z0-9]/.test(value) || !/[a-z0-9]$/.test(value)) {
    problems.push('must begin and end with a lowercase letter or a digit');
  }
  if (value.includes('..')) {
    problems.push('must not contain two adjacent dots');
  }
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(value)) {
    problems.push('must not look like an IP address');
  }
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(value) || /(-s3alias|--ol-s3|\.mrap|--x-s3)$/.test(value)) {
    problems.push('uses a prefix or suffix S3 reserves');
  }
  if (problems.length === 0) {
    return [];
  }
  return [`${prop} '${value}' is not a valid bucket name: it ${problems.join('; it ')}. Choose a name such as 'my-vm-exports'.`];
}
