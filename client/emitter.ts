/** A typed event emitter small enough for a browser bundle; a throwing listener cannot stop the others. */
export class Emitter<Events extends { [K in keyof Events]: unknown }> {
  private listeners = new Map<keyof Events, Set<(payload: any) => void>>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) { set = new Set(); this.listeners.set(event, set); }
    set.add(listener);
    return () => { set!.delete(listener); };
  }

  once<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): () => void {
    const off = this.on(event, (payload) => { off(); listener(payload); });
    return off;
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event);
    // every state patch of every client emits `state`: nothing to copy when nobody listens
    if (!set || set.size === 0) { return; }
    for (const listener of [...set]) {
      try { listener(payload); } catch (e) { console.error(`listener of "${String(event)}" threw`, e); }
    }
  }
}
