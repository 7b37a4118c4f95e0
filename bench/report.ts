import type { ScaleResult } from './result.ts';
export function writeSummary(results: ScaleResult[]): void {
  void results;
}
