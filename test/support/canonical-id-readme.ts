/**
 * The README's canonical-ID table, rendered from the library's source table
 * (src/bucket/canonical-id-table.ts). test/readme-newcomer.test.ts fails when the README's copy differs;
 * `npx projen readme:canonical-ids` rewrites it (the test itself never edits the README).
 */
import * as fs from 'fs';
import * as path from 'path';
import { CANONICAL_ID_ROWS, DEFAULT_CANONICAL_ID } from '../../src/bucket/canonical-id-table';

export const README_PATH = path.join(__dirname, '..', '..', 'README.md');
export const TABLE_BEGIN = '<!-- canonical-id-table:begin (generated from src/bucket/canonical-id-table.ts: npx projen readme:canonical-ids) -->';
export const TABLE_END = '<!-- canonical-id-table:end -->';

/** The Markdown table: one row per region code, then the default. */
export function renderCanonicalIdTable(): string {
  const lines = ['| region | VM Import/Export canonical ID |', '|---|---|'];
  const rows = CANONICAL_ID_ROWS.flatMap((row) => row.regions.map((region) => ({ region, id: row.canonicalId })))
    .sort((a, b) => a.region.localeCompare(b.region));
  for (const { region, id } of rows) lines.push(`| \`${region}\` | \`${id}\` |`);
  lines.push(`| every other region (\`VmExportCanonicalIds.DEFAULT\`) | \`${DEFAULT_CANONICAL_ID}\` |`);
  return lines.join('\n');
}

/** The table between the markers of a README text, or undefined without markers. */
export function tableInReadme(readme: string): string | undefined {
  const begin = readme.indexOf(TABLE_BEGIN);
  const end = readme.indexOf(TABLE_END);
  if (begin < 0 || end < begin) return undefined;
  return readme.slice(begin + TABLE_BEGIN.length, end).trim();
}

/** The README text with the generated table between the markers. */
export function withGeneratedTable(readme: string): string {
  const begin = readme.indexOf(TABLE_BEGIN);
  const end = readme.indexOf(TABLE_END);
  if (begin < 0 || end < begin) throw new Error(`README.md lacks the markers ${TABLE_BEGIN} ... ${TABLE_END}`);
  return `${readme.slice(0, begin + TABLE_BEGIN.length)}\n${renderCanonicalIdTable()}\n${readme.slice(end)}`;
}

if (require.main === module) {
  const readme = fs.readFileSync(README_PATH, 'utf8');
  const updated = withGeneratedTable(readme);
  if (updated === readme) {
    console.log('README.md: the canonical-ID table is current');
  } else {
    fs.writeFileSync(README_PATH, updated);
    console.log('README.md: rewrote the canonical-ID table from src/bucket/canonical-id-table.ts');
  }
}
