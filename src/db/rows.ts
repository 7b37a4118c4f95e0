/** Row values from `db.execute` come back as strings for bigint counts. */
export function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(v ?? 0);
}

/** A Postgres array literal as one parameter (up to 10,000 values rather than one parameter each). */
export function pgArray(values: Array<string | number>): string {
  return `{${values.map((v) => `"${String(v).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`;
}
