/** The Configuration table of docs/configuration.md, rendered from the settings table (src/settings.ts). */
import { SETTINGS } from '../../src/settings.ts';
import { markdownTable } from '../../scripts/markdown-table.ts';

export function settingsTable(): string {
  const rows = SETTINGS.map((s) => {
    const fallback = 'default' in s ? (typeof s.default === 'number' ? `\`${s.default}\`` : s.default) : '–';
    return [`\`${s.name}\``, s.kind, fallback, s.meaning];
  });
  return markdownTable(['name', 'kind', 'default', 'meaning'], rows);
}
