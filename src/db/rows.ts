/** Row values from `db.execute` come back as strings for bigint counts. */
export function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v ?? 0);
}
