// `npm run receipt`'s lines for the files outside Postgres: per store, removed, kept and pending.
import { describe, expect, it } from 'vitest';
import { formatReceipt, type Receipt } from '../../scripts/receipt/read.ts';

const erased: Receipt['erased'] = {
  id: 'msg_1',
  type: 'account.erased',
  deactivated_at: new Date('2026-09-01T00:00:00Z'),
  data: { userId: 'u_1', erasedAt: '2026-11-01T00:00:00.000Z', deactivatedAt: '2026-09-01T00:00:00.000Z' },
  run_id: 'r1',
  created_at: new Date('2026-11-01T00:00:00Z'),
  attempts: 1,
  delivered_at: new Date('2026-11-01T00:10:00Z'),
  parked_at: null,
  last_error: null,
  run_trigger: 'scheduled',
};
const receipt = (blob: Receipt['stores']['blob']): Receipt => ({
  userId: 'u_1',
  erased,
  events: [],
  exists: false,
  stores: { blob },
  stripe: { customers: [] },
});
const files = { filesRemoved: 0, filesKept: 0, filesPending: 0, prefixesPending: 0, parked: 0 };

describe('the receipt of an erased user with files', () => {
  it('says per store what was removed and kept, and that nothing is pending', () => {
    expect(formatReceipt(receipt({ 'vercel-blob': { ...files, filesRemoved: 3, filesKept: 1 } }))).toContain(
      '  files in vercel-blob: 3 removed, 1 kept (a live row names them); nothing pending',
    );
  });

  it('says what is pending, and what is parked, per store', () => {
    const lines = formatReceipt(
      receipt({ r2: { ...files, filesRemoved: 2, filesPending: 4, parked: 4 }, 'vercel-blob': { ...files, prefixesPending: 1 } }),
    );
    expect(lines).toContain(
      '  files in r2: 2 removed, 0 kept (a live row names them); pending: 4 queued file(s), 0 prefix(es) to sweep (4 PARKED: requeue purge-deleted-blobs)',
    );
    expect(lines).toContain(
      '  files in vercel-blob: 0 removed, 0 kept (a live row names them); pending: 0 queued file(s), 1 prefix(es) to sweep',
    );
  });
});
