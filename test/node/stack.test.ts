import { describe, expect, inject, it } from 'vitest';
import pg from 'pg';
describe('stack', () => {
  it('has a postgres', async () => {
    const c = new pg.Client(inject('stack').postgresUrl);
    await c.connect();
    expect((await c.query('select 1 as x')).rows[0].x).toBe(1);
    await c.end();
  });
});
