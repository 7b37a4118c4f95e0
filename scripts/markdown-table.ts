/**
 * A Markdown table as Prettier prints it (every cell padded to its column's width, a separator of
 * dashes at least 3 wide), so a generated section passes `prettier --check` as written and the
 * tests that compare it with the docs compare exact text. Widths count code points: the cells
 * hold no wide (East Asian) characters.
 */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const width = (cell: string) => [...cell].length;
  const widths = header.map((_, i) => Math.max(3, ...[header, ...rows].map((row) => width(row[i] ?? ''))));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, i) => cell + ' '.repeat(widths[i]! - width(cell))).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
