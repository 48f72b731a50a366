// Prints "jest: N passed, N failed, N skipped" from jest-junit's report and exits non-zero when
// the report is missing, any test failed, or no test ran.
const fs = require('fs');

const file = process.argv[2];
if (!fs.existsSync(file)) {
  console.log(`no test report at ${file}`);
  console.log('jest: 0 passed, 1 failed');
  process.exit(1);
}
const xml = fs.readFileSync(file, 'utf8');
const root = /<testsuites\b[^>]*>/.exec(xml);
const attr = (name) => Number((new RegExp(`\\b${name}="(\\d+)"`).exec(root ? root[0] : '') || [])[1] || 0);
const total = attr('tests');
const failures = attr('failures') + attr('errors');
const skipped = (xml.match(/<skipped\s*\/>/g) || []).length;
const passed = total - failures - skipped;
console.log(`jest: ${passed} passed, ${failures} failed, ${skipped} skipped`);
process.exit(total === 0 || failures > 0 ? 1 : 0);
