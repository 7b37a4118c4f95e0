/** The README's Configuration table, rendered from the settings table (src/settings.ts). */
import { SETTINGS } from '../../src/settings.ts';

export function settingsTable(): string {
  const rows = SETTINGS.map((s) => {
    const fallback = 'default' in s ? (typeof s.default === 'number' ? `\`${s.default}\`` : s.default) : '–';
    return `| \`${s.name}\` | ${s.kind} | ${fallback} | ${s.meaning} |`;
  });
  return ['| name | kind | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
