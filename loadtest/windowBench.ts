/**
 * What the client library costs per state patch: every patch of every client (a
 * typing flag, a read horizon, a message) makes `ChatConnection` look at the state's
 * message window for rows it has not delivered. Times that look on a full window
 * (`STATE_MESSAGE_WINDOW` rows of the real schema) the way the library does it
 * (`windowAbove`: copy only the rows above lastSeq) against copying the whole window
 * on every patch (the library before it). `npx tsx loadtest/windowBench.ts [rows] [patches]`
 */
import { ArraySchema } from "@colyseus/schema";
import { toMessage, windowAbove, windowHasGap } from "../client/delivery";
import { MessageState } from "../schema/ChatState";

const rows = Number(process.argv[2]) || 50;
const patches = Number(process.argv[3]) || 200_000;
const window = new ArraySchema<MessageState>();
for (let seq = 1; seq <= rows; seq++) {
  window.push(Object.assign(new MessageState(), { seq, id: `m${seq}`, senderId: "u", senderRole: "agent", senderName: "A", text: "x".repeat(100), at: seq }));
}
const lastSeq = rows; // the usual patch: nothing new in the window
let sink = 0;

function wholeWindow() {
  const copied = [...window].map((m) => toMessage(m, "v1"));
  if (windowHasGap(copied.map((m) => m.seq), lastSeq)) { sink++; }
  for (const m of copied) { if (m.seq > lastSeq) { sink++; } }
}

function onlyFresh() {
  const { fresh, oldest } = windowAbove(window, "v1", lastSeq);
  if (oldest !== undefined && windowHasGap([oldest], lastSeq)) { sink++; }
  sink += fresh.length;
}

function time(name: string, fn: () => void) {
  for (let i = 0; i < patches / 10; i++) { fn(); } // warm up
  const t0 = performance.now();
  for (let i = 0; i < patches; i++) { fn(); }
  const us = ((performance.now() - t0) * 1000) / patches;
  console.log(`${name.padEnd(34)} ${us.toFixed(2)} µs per patch`);
  return us;
}

const before = time(`whole window copied (${rows} rows)`, wholeWindow);
const after = time(`rows above lastSeq only (${rows} rows)`, onlyFresh);
// 4,000 clients and 2 patches a second each: µs × 8,000 per second, as a share of one core
console.log(`ratio ${(before / after).toFixed(1)}×; at 4,000 clients and 2 patches/s each: ${((before * 8_000) / 1e4).toFixed(1)} % vs ${((after * 8_000) / 1e4).toFixed(1)} % of a core (checksum ${sink})`);
