/** Milliseconds now; injectable so the rules can be tested without waiting. */
export type Clock = () => number;

/** A token bucket: `rate` tokens per second, at most `burst` saved up. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private rate: number, private burst: number, private now: Clock = Date.now) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes `cost` tokens if there are that many; a refused take costs nothing. */
  take(cost = 1): boolean {
    this.refill();
    if (this.tokens < cost) { return false; }
    this.tokens -= cost;
    return true;
  }

  /** True when the bucket is full again, so forgetting it changes nothing. */
  isFull(): boolean {
    this.refill();
    return this.tokens >= this.burst;
  }

  private refill() {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }
}

/** One token bucket per key (user id), forgotten after a minute unused. */
export class KeyedRateLimiter {
  private buckets = new Map<string, { bucket: TokenBucket; used: number }>();
  private sweptAt = Date.now();

  constructor(private rate: number, private burst: number) {}

  take(key: string): boolean {
    const now = Date.now();
    if (now - this.sweptAt > 60_000) {
      for (const [k, v] of this.buckets) { if (now - v.used > 60_000) { this.buckets.delete(k); } }
      this.sweptAt = now;
    }
    let entry = this.buckets.get(key);
    if (!entry) { this.buckets.set(key, entry = { bucket: new TokenBucket(this.rate, this.burst), used: now }); }
    entry.used = now;
    return entry.bucket.take();
  }
}
