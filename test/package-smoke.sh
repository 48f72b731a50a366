#!/usr/bin/env bash
# Smoke test of the PACKAGED library: install the npm tarball that `npx projen package:js`
# writes to dist/js/ into a scratch app outside the repository, synthesize a stack with a
# VmExportBucket and an InstanceExport, and check the template and the shipped handler assets.
#
# Usage (from the repository root, after `npx projen compile && npx projen package:js`):
#   bash test/package-smoke.sh [path/to/cdk-vm-export-*.tgz]
# Environment:
#   KEEP_SMOKE_DIR=1   keep the scratch directory (its path is printed)
#
# Prints PASS or FAIL (with the reason) as its last line; exits non-zero on failure.
set -euo pipefail

started=$(date +%s)
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

fail() {
  echo "package-smoke: $*" >&2
  echo "FAIL ($(($(date +%s) - started)) s): $*"
  exit 1
}

# --- the tarball ------------------------------------------------------------------------------
# shellcheck source=support/tarball.sh
source "$repo_root/test/support/tarball.sh"
# On failure the captured text is the FAIL line: print it as the last line.
tarball=$(locate_tarball "${1:-}") || { echo "$tarball"; exit 1; }

# The package must carry the bundled handlers (they are built by `npx projen bundle`).
listing=$(tar tzf "$tarball") || fail "cannot read $tarball"
for handler in custom-resource export-task; do
  grep -qx "package/assets/lambda/$handler/index/index.js" <<< "$listing" \
    || fail "the tarball lacks assets/lambda/$handler/index/index.js (was 'npx projen bundle' run before packaging?)"
done

# --- a scratch app outside the repository -----------------------------------------------------
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cdk-vm-export-smoke.XXXXXX")
case "$scratch" in
  "$repo_root"/*) fail "the scratch directory $scratch is inside the repository" ;;
esac
cleanup() {
  if [[ "${KEEP_SMOKE_DIR:-}" == "1" ]]; then
    echo "package-smoke: kept $scratch"
  else
    rm -rf "$scratch"
  fi
}
trap cleanup EXIT

cd "$scratch"
cat > package.json <<'JSON'
{ "name": "cdk-vm-export-smoke", "version": "0.0.0", "private": true, "license": "UNLICENSED" }
JSON

echo "package-smoke: installing $(basename "$tarball") with aws-cdk-lib@2.257.0 in $scratch"
if ! npm install --prefer-offline --no-audit --no-fund --loglevel=error \
    "$tarball" aws-cdk-lib@2.257.0 'constructs@^10' > npm-install.log 2>&1; then
  cat npm-install.log >&2
  fail "npm install failed"
fi

cat > app.js <<'JS'
// Synthesizes one stack with the packaged constructs and checks what came out.
const fs = require('fs');
const path = require('path');
const { App, Stack, Duration, CfnOutput } = require('aws-cdk-lib');
const lib = require('cdk-vm-export');

const resolved = require.resolve('cdk-vm-export');
if (!resolved.startsWith(path.join(__dirname, 'node_modules') + path.sep)) {
  throw new Error(`cdk-vm-export resolved to ${resolved}, not to this app's node_modules`);
}

const outdir = path.join(__dirname, 'cdk.out');
const app = new App({ outdir });
const stack = new Stack(app, 'SmokeStack', { env: { account: '123456789012', region: 'eu-west-1' } });
const bucket = new lib.VmExportBucket(stack, 'ExportBucket', { expireExportsAfter: Duration.days(7) });
const vm = new lib.InstanceExport(stack, 'Export', {
  instanceId: 'i-0123456789abcdef0',
  bucket,
  targetEnvironment: lib.TargetEnvironment.VMWARE,
});
new CfnOutput(stack, 'ImageUri', { value: vm.exportObjectUri });
const assembly = app.synth();

const artifact = assembly.getStackByName('SmokeStack');
const template = artifact.template;
const problems = [];
const types = Object.values(template.Resources).map((r) => r.Type);
for (const type of ['Custom::VmInstanceExport', 'Custom::VmExportBucketGrant', 'AWS::StepFunctions::StateMachine',
  'AWS::CloudFormation::WaitCondition', 'AWS::S3::Bucket']) {
  if (!types.includes(type)) problems.push(`the template has no ${type}`);
}

// Every Lambda function's code is a file asset whose directory exists in cdk.out and holds a
// handler: the bundled handlers were shipped in the package.
const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'SmokeStack.assets.json'), 'utf8'));
const assetsByKey = new Map();
for (const [hash, asset] of Object.entries(manifest.files || {})) {
  for (const destination of Object.values(asset.destinations)) assetsByKey.set(destination.objectKey, { hash, asset });
}
const functions = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
let handlerAssets = 0;
for (const [id, fn] of functions) {
  const key = fn.Properties.Code && fn.Properties.Code.S3Key;
  const entry = typeof key === 'string' ? assetsByKey.get(key) : undefined;
  if (!entry) { problems.push(`${id}: code is not a file asset (${JSON.stringify(fn.Properties.Code)})`); continue; }
  const dir = path.join(outdir, entry.asset.source.path);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) { problems.push(`${id}: asset directory ${dir} is missing`); continue; }
  const handlerFile = (fn.Properties.Handler || 'index.handler').split('.')[0] + '.js';
  if (!fs.existsSync(path.join(dir, handlerFile))) { problems.push(`${id}: ${handlerFile} missing in ${dir}`); continue; }
  handlerAssets++;
}
// The library's two functions: the custom resource function (bucket grant, export, attributes) and the export task.
if (handlerAssets !== 2) problems.push(`${handlerAssets} Lambda functions have a shipped handler asset (expected the library's 2)`);

if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`synthesized SmokeStack: ${types.length} resources, ${functions.length} Lambda functions with shipped handler assets`);
JS

echo "package-smoke: synthesizing the scratch app"
if ! node app.js; then
  fail "the scratch app did not synthesize the expected template and assets"
fi

echo "PASS ($(($(date +%s) - started)) s): $(basename "$tarball") installs outside the repository and synthesizes an export with its bundled handlers"
