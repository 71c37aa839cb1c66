/**
 * Group commit: items submitted while a batch is in flight wait and go together in
 * the next one, so a store round trip (and its commit, its fsync) is paid per batch,
 * not per item. Each item gets its own outcome; `run` answers one per item, in order.
 * One batch in flight at a time keeps the order of a room's appends the order of the
 * calls; under load the batches simply grow.
 */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export class Batcher<In, Out> {
  private queue: { item: In; resolve: (v: Out) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = false;

  constructor(
    private readonly run: (items: In[]) => Promise<Outcome<Out>[]>,
    private readonly maxBatch = 1_000,
  ) {}

  submit(item: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.inFlight) { this.next(); }
    });
  }

  /** Items waiting or in flight, for close(). */
  get idle() { return !this.inFlight && this.queue.length === 0; }

  private next() {
    if (this.queue.length === 0) { this.inFlight = false; return; }
    this.inFlight = true;
    const batch = this.queue.splice(0, this.maxBatch);
    this.run(batch.map((b) => b.item)).then((outcomes) => {
      batch.forEach((b, i) => {
        const o = outcomes[i];
        if (o.ok) { b.resolve(o.value); } else { b.reject(o.error); }
      });
    }, (error) => {
      for (const b of batch) { b.reject(error); }
    }).finally(() => this.next());
  }
}
