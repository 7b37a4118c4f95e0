// The settings table is the one source: the table of docs/configuration.md and wrangler.toml [vars]
// must say what it says.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VAR_DEFAULTS } from '../../src/settings.ts';
import { settingsTable } from './settings-table.ts';
import { wranglerConfig } from '../../scripts/wrangler-config.ts';

describe('the settings table', () => {
  it('is the docs/configuration.md table, row for row', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    expect(doc).toContain(settingsTable());
  });

  it('gives exactly the wrangler.toml [vars], at their defaults', () => {
    expect(wranglerConfig().vars).toEqual(VAR_DEFAULTS);
  });
});
