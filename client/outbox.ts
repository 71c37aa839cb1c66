import type { ChatError } from "./errors";

/** A message typed but not yet acknowledged: kept with its client id, so a retry is the same message. */
export interface Unsent {
  id: string;
  text: string;
  kind?: "text" | "note";
  attempts: number;
  resolve(answer: { seq: number }): void;
  reject(error: ChatError): void;
}

/** Unsent messages in the order they were typed; the head is the one being sent. */
export class Outbox {
  private queue: Unsent[] = [];

  get size(): number { return this.queue.length; }
  get head(): Unsent | undefined { return this.queue[0]; }

  add(entry: Unsent): void { this.queue.push(entry); }

  /** Removes the head and settles it. */
  ack(seq: number): void { this.queue.shift()?.resolve({ seq }); }
  fail(error: ChatError): void { this.queue.shift()?.reject(error); }

  /** Rejects everything (the connection ended for good). */
  drain(error: ChatError): void {
    for (const entry of this.queue.splice(0)) { entry.reject(error); }
  }
}
