// What the global setup provides to every test project (Node and workerd alike).
declare module 'vitest' {
  export interface ProvidedContext {
    stack: {
      postgresUrl: string;
      redisUrl: string;
      controlUrl: string;
      template: string;
      /** The bindings of the database and endpoints the Worker's own env (SELF) uses. */
      selfBindings: import('./control-server.ts').TestBindings;
    };
    /** How long test/worker/soak.test.ts plays the app (SOAK_SECONDS, set by `npm run soak`). */
    soakSeconds: number;
    /** TEST_NOW: one more instant for the tests that fix their own clock ('' when unset). */
    testNow: string;
    /** The app layout the Worker under test bundles the map of, and its databases have. */
    layout: string;
  }
}

export {};
