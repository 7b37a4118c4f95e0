// Setup of the `node` test project: the Worker's modules these tests import (src/) read the app
// map of the test layout, as the Worker under test bundles it (src/app-map/index.ts reads the
// global SPACERR_APP_MAP where a build's `define` would have put it).
import { testMap } from '../../scripts/stack/migrate.ts';

(globalThis as { SPACERR_APP_MAP?: unknown }).SPACERR_APP_MAP = testMap();
