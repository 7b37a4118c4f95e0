import type { TestProject } from 'vitest/node';
import { startStack, type Stack } from '../scripts/stack/index.ts';

let stack: Stack | undefined;

/** Starts the local stack once for the whole run and hands its addresses to every project. */
export async function setup(project: TestProject) {
  stack = await startStack({ dataDir: '.stack/test', quiet: true });
  project.provide('stack', stack.info);
}

export async function teardown() {
  await stack?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    stack: import('../scripts/stack/index.ts').StackInfo;
  }
}
