/** `npm run cost:readme`: rewrites docs/cost.md's "What a month costs" section from the simulated days. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { costSection, replaceSection, type SimulatedDays } from './cost.ts';

const read = (path: string) => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as SimulatedDays;
const beforePath = './results/simulated-days-before.json';
const section = costSection(
  read('./results/simulated-days.json'),
  existsSync(new URL(beforePath, import.meta.url)) ? read(beforePath) : undefined,
);
const doc = new URL('../docs/cost.md', import.meta.url);
writeFileSync(doc, replaceSection(readFileSync(doc, 'utf8'), section));
console.log('docs/cost.md: cost section rewritten');
