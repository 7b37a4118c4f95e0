// docs/cost.md's "What a month costs" is generated from the simulated days, never typed by hand.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COST_END, COST_START, costSection, type SimulatedDays } from '../../bench/cost.ts';

const file = (path: string) => new URL(`../../${path}`, import.meta.url);
const read = (path: string) => JSON.parse(readFileSync(file(path), 'utf8')) as SimulatedDays;

describe('docs/cost.md: what a month costs', () => {
  it('is the section rendered from bench/results/simulated-days.json (npm run cost:readme)', () => {
    const doc = readFileSync(file('docs/cost.md'), 'utf8');
    const shown = doc.slice(doc.indexOf(COST_START), doc.indexOf(COST_END) + COST_END.length);
    const before = existsSync(file('bench/results/simulated-days-before.json'))
      ? read('bench/results/simulated-days-before.json')
      : undefined;
    expect(shown).toBe(costSection(read('bench/results/simulated-days.json'), before));
  });
});
