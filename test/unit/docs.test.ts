// The docs say what the code does: the README's jobs table is the job list with its crons, its
// settings are the settings table's, and every relative link in the docs reaches a file (and,
// with an anchor, a heading of it).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/settings.ts';
import { JOBS } from '../../src/jobs/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The Markdown files the project writes (the bench's results are its own output). */
const DOCS = [
  'README.md',
  'CONTRIBUTING.md',
  'CHANGELOG.md',
  'bench/README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

describe('the README', () => {
  it('lists every job with its cron, in the job list order', () => {
    const rows = tableRows(section(read('README.md'), '## The jobs'));
    expect(rows.map(([name, cron]) => [unquote(name), unquote(cron)])).toEqual(JOBS.map((job) => [job.name, job.cron]));
  });

  it('gives the settings table defaults for the settings it names', () => {
    const rows = tableRows(section(read('README.md'), '## The five settings people change'));
    expect(rows).toHaveLength(5);
    for (const [name, fallback] of rows) {
      const setting = SETTINGS.find((s) => s.name === unquote(name));
      expect(setting, name).toBeDefined();
      expect(unquote(fallback), name).toBe(String(setting && 'default' in setting ? setting.default : 'unset'));
    }
  });
});

describe('the docs', () => {
  it.each(DOCS)('%s: every relative link reaches a file, and its anchor a heading', (doc) => {
    const text = read(doc);
    const links = [...prose(text).matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
    const broken = links
      .filter((target) => !/^[a-z]+:/i.test(target))
      .filter((target) => {
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const file = path === '' ? join(ROOT, doc) : join(ROOT, dirname(doc), decodeURIComponent(path));
        if (!existsSync(file)) return true;
        return anchor !== undefined && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(anchor);
      });
    expect(broken, `${doc} links to what is not there (relative to ${relative(ROOT, join(ROOT, dirname(doc))) || '.'})`).toEqual([]);
  });
});

/** The text of a Markdown section, from its heading to the next heading of any level. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no section "${heading}"`);
  const rest = text.slice(start + heading.length + 2);
  const end = rest.search(/^#/m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The body rows of the first table in `text`, each a list of trimmed cells. */
function tableRows(text: string): string[][] {
  const lines = text.split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const after = lines.slice(first).findIndex((line) => !line.startsWith('|'));
  const table = lines.slice(first, after < 0 ? undefined : first + after);
  return table.slice(2).map((line) =>
    line
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim()),
  );
}

const unquote = (cell = '') => cell.replace(/^`(.*)`$/, '$1');

/** `text` without fenced code blocks, where brackets are not links and `#` is no heading. */
const withoutFences = (text: string) => text.replace(/^```[\s\S]*?^```/gm, '');

/** `text` without fenced code blocks and inline code. */
const prose = (text: string) => withoutFences(text).replace(/`[^`\n]*`/g, '');

/** The anchors GitHub gives a file's headings. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of withoutFences(text)
    .replace(/`([^`\n]*)`/g, '$1')
    .matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}
