// Turns StrykerJS JSON reports (reports/mutation/*.json) into the score table and the survivor
// list of bench/MUTATION.md: node bench/mutation-table.mjs <report.json>... (a later report's
// entry for a file replaces an earlier one's).
import { readFileSync } from 'node:fs';

const files = new Map();
for (const path of process.argv.slice(2)) {
  const report = JSON.parse(readFileSync(path, 'utf8'));
  for (const [name, file] of Object.entries(report.files)) files.set(name, file);
}

const COUNTED = ['Killed', 'Timeout', 'Survived', 'NoCoverage'];
const rows = [];
const survivors = [];
for (const name of [...files.keys()].sort()) {
  const { mutants, source } = files.get(name);
  const count = (status) => mutants.filter((m) => m.status === status).length;
  const killed = count('Killed') + count('Timeout');
  const scored = COUNTED.reduce((sum, s) => sum + count(s), 0);
  const score = scored === 0 ? 'n/a' : `${((100 * killed) / scored).toFixed(1)} %`;
  rows.push(`| \`${name}\` | ${mutants.length} | ${count('Killed')} | ${count('Timeout')} | ${count('Survived')} | ${count('NoCoverage')} | ${count('CompileError')} | ${score} |`);
  const lines = source.split('\n');
  for (const m of mutants.filter((x) => x.status === 'Survived' || x.status === 'NoCoverage')) {
    const line = m.location.start.line;
    const text = lines[line - 1].trim().slice(0, 100);
    const replacement = String(m.replacement ?? '').replace(/\s+/g, ' ').slice(0, 60);
    survivors.push(`- ${name.split('/').pop()}:${line} ${m.status} ${m.mutatorName} \`${replacement}\` — ${text}`);
  }
}

console.log('| file | mutants | killed | timed out | survived | no coverage | compile errors | score |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
console.log(rows.join('\n'));
console.log('\nSurvivors and mutants without coverage:\n');
console.log(survivors.join('\n'));
