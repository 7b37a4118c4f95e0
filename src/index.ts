import { createApp } from './http/app';
import { scheduled } from './scheduled';

const app = createApp();

export default { fetch: app.fetch, scheduled } satisfies ExportedHandler<Env>;
