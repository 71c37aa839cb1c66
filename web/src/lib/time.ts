/** Clock time of a message, in the reader's locale. */
export function clock(at: number): string {
  return new Date(at).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** "42 s", "3 min", "1 h 5 min": how long something has waited. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) { return `${s} s`; }
  const m = Math.floor(s / 60);
  if (m < 60) { return `${m} min`; }
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
