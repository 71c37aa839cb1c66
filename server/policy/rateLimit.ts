/** A token bucket: `rate` tokens per second, at most `burst` saved up. */
export class TokenBucket {
  private tokens: number;
  private last = Date.now();

  constructor(private rate: number, private burst: number) {
    this.tokens = burst;
  }

  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) { return false; }
    this.tokens -= 1;
    return true;
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
