// The fast tier: pure unit tests, no stack (no global setup), seconds in all. `npm run test:unit`
// runs it alone with this file; `npm test` runs it as one project of vitest.config.ts.
import { defineConfig, defineProject } from 'vitest/config';

export const unitProject = defineProject({
  test: {
    name: 'unit',
    include: ['test/unit/**/*.test.ts'],
    environment: 'node',
  },
});

export default defineConfig(unitProject);
