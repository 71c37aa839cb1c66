/**
 * A mergeable log-bucketed latency histogram (2 % relative precision, 0.01 ms .. ~1e6 ms).
 * Workers send sparse snapshots to the main process, which merges them.
 */
const BASE = Math.log(1.02);
const MIN_MS = 0.01;

export type SparseHist = Record<number, number>;

export class Hist {
  counts = new Map<number, number>();
  count = 0;
  sum = 0;
  max = 0;

  record(ms: number) {
    const v = Math.max(ms, MIN_MS);
    const idx = Math.ceil(Math.log(v / MIN_MS) / BASE);
    this.counts.set(idx, (this.counts.get(idx) ?? 0) + 1);
    this.count++;
    this.sum += ms;
    if (ms > this.max) { this.max = ms; }
  }

  /** The value at quantile q (0..1): the upper bound of its bucket, never above the max seen. */
  quantile(q: number): number {
    if (this.count === 0) { return 0; }
    const rank = Math.max(1, Math.ceil(q * this.count));
    const keys = [...this.counts.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const k of keys) {
      seen += this.counts.get(k)!;
      if (seen >= rank) { return Math.min(this.max, MIN_MS * Math.exp(k * BASE)); }
    }
    return this.max;
  }

  mean() { return this.count ? this.sum / this.count : 0; }

  toJSON(): { counts: SparseHist; count: number; sum: number; max: number } {
    return { counts: Object.fromEntries(this.counts), count: this.count, sum: this.sum, max: this.max };
  }

  merge(other: { counts: SparseHist; count: number; sum: number; max: number }) {
    for (const [k, n] of Object.entries(other.counts)) {
      const idx = Number(k);
      this.counts.set(idx, (this.counts.get(idx) ?? 0) + n);
    }
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) { this.max = other.max; }
  }

  summary() {
    return {
      count: this.count,
      p50: round(this.quantile(0.5)), p95: round(this.quantile(0.95)), p99: round(this.quantile(0.99)),
      max: round(this.max), mean: round(this.mean()),
    };
  }
}

export type HistSummary = ReturnType<Hist["summary"]>;

export function round(v: number, digits = 2) {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
