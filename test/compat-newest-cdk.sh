#!/usr/bin/env bash
# Compatibility job: the packed library in the app a new user has. In a scratch folder OUTSIDE
# the repository: `cdk init app --language typescript` (the newest aws-cdk CLI), the newest
# aws-cdk-lib 2.x, cdk-nag 3 and the npm tarball (dist/js/*.tgz) installed; every README
# TypeScript sample copied in (test/compat/readme-app.ts) and synthesized with `cdk synth` under
# cdk init's cdk.json context (every feature flag, template validation included) and
# JSII_DEPRECATED=fail; then test/compat/check-newest.js synthesizes the samples, the example
# apps and the library's surface again in process and checks annotations, cdk-nag, the
# canonical IDs and the IAM shape on that aws-cdk-lib.
#
# Needs only the npm registry. Usage (from the repository root, after `npx projen build` or
# `npx projen compile && npx projen package:js`):
#   bash test/compat-newest-cdk.sh [path/to/cdk-vm-export-*.tgz]
# Environment:
#   COMPAT_CDK_LIB=2.x.y   test this aws-cdk-lib instead of the newest (default: latest)
#   KEEP_COMPAT_DIR=1      keep the scratch directory (its path is printed)
#
# Prints PASS or FAIL (with the reason) as its last line, naming the aws-cdk-lib version used.
set -euo pipefail

started=$(date +%s)
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CDK_DISABLE_CLI_TELEMETRY=true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
cdk_lib_version=unknown

fail() {
  echo "compat-newest: $*" >&2
  echo "FAIL ($(($(date +%s) - started)) s, aws-cdk-lib ${cdk_lib_version}): $*"
  exit 1
}

# --- the tarball ------------------------------------------------------------------------------
# shellcheck source=support/tarball.sh
source "$repo_root/test/support/tarball.sh"
# On failure the captured text is the FAIL line: print it as the last line.
tarball=$(locate_tarball "${1:-}") || { echo "$tarball"; exit 1; }

# --- a scratch cdk init app outside the repository -------------------------------------------
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cdk-vm-export-compat.XXXXXX")
case "$scratch" in
  "$repo_root"/*) fail "the scratch directory $scratch is inside the repository" ;;
esac
cleanup() {
  if [[ "${KEEP_COMPAT_DIR:-}" == "1" ]]; then echo "compat-newest: kept $scratch"; else rm -rf "$scratch"; fi
}
trap cleanup EXIT
app="$scratch/app"
mkdir -p "$app"
cd "$app"

echo "compat-newest: cdk init app --language typescript (aws-cdk@latest) in $app"
npx --yes aws-cdk@latest init app --language typescript --generate-only > "$scratch/init.log" 2>&1 \
  || { cat "$scratch/init.log" >&2; fail "cdk init failed"; }
node -e "const c=require('./cdk.json').context||{}; if(!c['@aws-cdk/core:validateAgainstDefaultRules']) process.exit(1)" \
  || fail "cdk init's cdk.json does not turn on @aws-cdk/core:validateAgainstDefaultRules: this job would not test what users get"

want_lib=${COMPAT_CDK_LIB:-latest}
echo "compat-newest: npm install (the init app's packages, aws-cdk-lib@$want_lib, cdk-nag 3, $(basename "$tarball"))"
# One install from the edited package.json: changing aws-cdk-lib in place after a first install
# leaves a broken nested package.
node -e "
  const fs = require('fs');
  const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
  Object.assign(pkg.dependencies, { 'aws-cdk-lib': process.argv[1], 'cdk-nag': '^3', 'cdk-vm-export': 'file:' + process.argv[2] });
  fs.writeFileSync('package.json', JSON.stringify(pkg, null, 2));" "$want_lib" "$tarball"
npm install --prefer-offline --no-audit --no-fund --loglevel=error > "$scratch/npm-install.log" 2>&1 \
  || { tail -30 "$scratch/npm-install.log" >&2; fail "npm install failed"; }
cdk_lib_version=$(node -p "require('aws-cdk-lib/package.json').version")
cli_version=$(npx cdk --version 2>/dev/null | head -1)
echo "compat-newest: aws-cdk-lib $cdk_lib_version, aws-cdk CLI $cli_version, cdk-nag $(node -p "require('cdk-nag/package.json').version"), cdk-vm-export $(node -p "require('cdk-vm-export/package.json').version")"
resolved=$(node -p "require.resolve('cdk-vm-export')")
[[ "$resolved" == "$app/node_modules/"* ]] || fail "cdk-vm-export resolved to $resolved, not to the scratch app"

# --- the README samples and example apps ------------------------------------------------------
exports_json=$(node -p "JSON.stringify(Object.keys(require('cdk-vm-export')).sort())")
(cd "$repo_root" && npx ts-node --transpile-only --project test/tsconfig.json test/compat/readme-app.ts "$app" "$exports_json") \
  || fail "could not write the README samples into the scratch app"
cp "$repo_root/test/compat/check-newest.js" "$app/check-newest.js"
# The samples' stacks with an environment (account 123456789012, eu-west-1) make the lookups a
# user's credentials would answer (a VPC's availability zones): answer them as cdk.context.json
# does, so that cdk synth needs no AWS account.
cat > "$app/cdk.context.json" <<'JSON'
{
  "availability-zones:account=123456789012:region=eu-west-1": ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}
JSON

echo "compat-newest: cdk synth (JSII_DEPRECATED=fail; cdk.json: $(node -p "Object.keys(require('./cdk.json').context).length") context flags)"
synth_problem=""
if ! JSII_DEPRECATED=fail npx cdk synth --no-notices --quiet > "$scratch/synth.log" 2>&1; then
  # The first error only (minified aws-cdk-lib source lines are long): the checks below list all.
  grep -v '^.\{400\}' "$scratch/synth.log" | tail -25 >&2
  synth_problem="cdk synth of the README samples failed on aws-cdk-lib $cdk_lib_version (log above)"
# A warning printed by synth (deprecated API, annotation) counts as a failure.
elif grep -E '^\[(Warning|WARNING)\]|\[Warning at|deprecated' "$scratch/synth.log" >&2; then
  synth_problem="cdk synth printed warnings on aws-cdk-lib $cdk_lib_version (above)"
else
  echo "compat-newest: cdk synth wrote $(ls cdk.out/*.template.json | wc -l) templates"
fi

# --- template-level checks on this aws-cdk-lib ------------------------------------------------
expected_ids=$(cd "$repo_root" && npx ts-node --transpile-only --project test/tsconfig.json -e "
  const t = require('./src/bucket/canonical-id-table');
  console.log(JSON.stringify(Object.fromEntries(['us-east-1', 'eu-west-1', 'ap-east-1', 'us-gov-west-1', 'cn-north-1']
    .map((r) => [r, t.canonicalIdForRegion(r)]))));") || fail "could not read the canonical ID table"
checks_ok=1
npx tsx check-newest.js "$expected_ids" || checks_ok=0
[[ -z "$synth_problem" ]] || fail "$synth_problem$([[ $checks_ok == 1 ]] || echo '; the template checks failed too (problems above)')"
[[ $checks_ok == 1 ]] || fail "template checks failed on aws-cdk-lib $cdk_lib_version (problems above)"

echo "PASS ($(($(date +%s) - started)) s): aws-cdk-lib $cdk_lib_version (aws-cdk CLI $cli_version) in a fresh cdk init app: every README sample and example app synthesizes with cdk init's context and JSII_DEPRECATED=fail; cdk-nag, canonical IDs and IAM shape hold"
