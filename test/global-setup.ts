import type { TestProject } from 'vitest/node';
import { startStack } from '../scripts/stack/index.ts';
import { createAppDatabase, createSourceDatabase, LAYOUTS, layoutSource, ownAppSource } from '../scripts/stack/migrate.ts';
import { startControlServer, type TestBindings } from './support/control-server.ts';

const TEMPLATE = 'spacerr_template';

let stop: (() => Promise<void>) | undefined;

/**
 * Starts the local stack once for the whole run: real Postgres, real Redis, a template database
 * with the app's tables (a layout's Prisma migrations, fixtures/<layout>/) and every Worker migration applied (each test file clones it in milliseconds), and the control server.
 */
export async function setup(project: TestProject) {
  const stack = await startStack({ dataDir: `.stack/test-${process.pid}`, quiet: true });
  try {
    await createAppDatabase(stack.postgresUrl, TEMPLATE);
    // One more per shipped layout, and for the owner's app (APP_MIGRATIONS), for the tests that
    // run on each of them (test/layouts/).
    const layoutTemplates: Record<string, string> = {};
    for (const source of [...LAYOUTS.map(layoutSource), ...[ownAppSource()].filter((s) => s !== undefined)]) {
      const name = `spacerr_template_${source.name.replaceAll('-', '_')}`;
      await createSourceDatabase(stack.postgresUrl, name, source);
      layoutTemplates[source.name] = name;
    }
    const control = await startControlServer({
      postgresUrl: stack.postgresUrl,
      redisUrl: stack.redisUrl,
      template: TEMPLATE,
      layoutTemplates,
    });
    stop = async () => {
      await control.close();
      await stack.stop();
    };
    const selfBindings = (await (await fetch(`${control.url}/env`, { method: 'POST' })).json()) as TestBindings;
    project.provide('stack', {
      postgresUrl: stack.postgresUrl,
      redisUrl: stack.redisUrl,
      controlUrl: control.url,
      template: TEMPLATE,
      selfBindings,
    });
  } catch (err) {
    await stack.stop();
    throw err;
  }
}

export async function teardown() {
  await stop?.();
}
