/** Plain-text tables for the terminal: left-aligned text, right-aligned numbers. */

export type Cell = string | number;

/** Renders `rows` under `headers`, columns padded to their widest cell, two spaces apart. */
export function renderTable(headers: string[], rows: Cell[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i] ?? '').length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  const line = (cells: Cell[]) =>
    cells
      .map((c, i) => (numeric[i] ? String(c ?? '').padStart(widths[i] ?? 0) : String(c ?? '').padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
