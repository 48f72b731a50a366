/**
 * Formatting of the benchmark output: Markdown tables (readable in a terminal and in
 * bench/RESULTS.md) and budget verdicts.
 */

/** One budget check: what was required, what was measured, whether it holds. */
export interface Verdict {
  /** What the budget is, e.g. `≤ 500 transitions for a 12 h export`. */
  readonly budget: string;
  /** The measured value, as printed. */
  readonly measured: string;
  readonly ok: boolean;
}

/** The result of one benchmark: one or more tables, notes, and the budgets it checked. */
export interface Section {
  readonly title: string;
  readonly tables: Table[];
  /** Explanations printed under the tables (models, assumptions, how it was measured). */
  readonly notes: string[];
  readonly verdicts: Verdict[];
}

export interface Table {
  readonly headers: string[];
  readonly rows: string[][];
  /** Columns aligned right (numbers). @default every column but the first */
  readonly alignRight?: boolean[];
}

/** A Markdown table with padded columns. */
export function formatTable(table: Table): string {
  const widths = table.headers.map((h, i) =>
    Math.max(h.length, 3, ...table.rows.map((r) => (r[i] ?? '').length)));
  const right = table.alignRight ?? table.headers.map((_h, i) => i > 0);
  const pad = (text: string, i: number) => (right[i] ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  const line = (cells: string[]) => `| ${cells.map((c, i) => pad(c ?? '', i)).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(table.headers), rule, ...table.rows.map(line)].join('\n');
}

/** A verdict as a table cell. */
export function verdictCell(ok: boolean): string {
  return ok ? 'ok' : 'BROKEN';
}

/** A section: title, tables, notes, budget lines. */
export function formatSection(section: Section): string {
  const parts = [`## ${section.title}`, ''];
  for (const table of section.tables) {
    parts.push(formatTable(table), '');
  }
  for (const note of section.notes) {
    parts.push(`- ${note}`);
  }
  if (section.notes.length > 0) parts.push('');
  if (section.verdicts.length > 0) {
    parts.push('Budgets:', '');
    for (const v of section.verdicts) {
      parts.push(`- [${v.ok ? 'ok' : 'BROKEN'}] ${v.budget}: ${v.measured}`);
    }
    parts.push('');
  }
  return parts.join('\n');
}

/** All budget verdicts of several sections, in a closing summary table. */
export function formatSummary(sections: Section[]): string {
  const rows = sections.flatMap((s) => s.verdicts.map((v) => [s.title, v.budget, v.measured, verdictCell(v.ok)]));
  return [
    '## Budget summary',
    '',
    formatTable({ headers: ['benchmark', 'budget', 'measured', 'verdict'], rows, alignRight: [false, false, true, false] }),
    '',
  ].join('\n');
}

/** The median of some numbers. */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `1234567` → `1,234,567`. */
export function int(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** US dollars with enough digits for fractions of a cent. */
export function usd(value: number): string {
  return `$${value.toFixed(6)}`;
}

/** Bytes, with KB (1024) when large. */
export function bytes(value: number): string {
  return value >= 1024 ? `${int(value)} B (${(value / 1024).toFixed(1)} KB)` : `${int(value)} B`;
}

/** Milliseconds with two decimals. */
export function ms(value: number): string {
  return `${value.toFixed(2)} ms`;
}

/** Seconds as `1 h 2 min 3 s` (0 s → `0 s`). */
export function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  const parts = [h ? `${h} h` : '', m ? `${m} min` : '', s || (!h && !m) ? `${s} s` : ''];
  return parts.filter(Boolean).join(' ');
}
