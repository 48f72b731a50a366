/**
 * The README's Troubleshooting section lists the error of every row of the bad-input table.
 */
import * as fs from 'fs';
import * as path from 'path';
import { BAD_INPUTS } from './support/bad-input-table';

function troubleshootingSection(): string {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Troubleshooting\n');
  expect(start).toBeGreaterThanOrEqual(0);
  const next = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, next < 0 ? undefined : next);
}

function tableRows(section: string): string[][] {
  return section.split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| error ') && !line.startsWith('|---'))
    .map((line) => line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, '|')));
}

test('the section comes before the API reference and is an error | cause | fix table', () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  expect(readme.indexOf('## Troubleshooting')).toBeLessThan(readme.indexOf('## API reference'));
  expect(troubleshootingSection()).toContain('| error | cause | fix |');
});

test('every table line has an error, a cause and a fix', () => {
  const rows = tableRows(troubleshootingSection());
  expect(rows.length).toBeGreaterThan(0);
  for (const cells of rows) {
    expect(cells).toHaveLength(3);
    expect(cells.every((c) => c.length > 0)).toBe(true);
  }
});

describe.each(BAD_INPUTS.map((row) => [row.name, row] as const))('%s', (_name, row) => {
  test('the README lists its error', () => {
    const errors = tableRows(troubleshootingSection()).map((cells) => cells[0].replace(/^`|`$/g, ''));
    expect(errors).toContain(row.error);
  });
});
