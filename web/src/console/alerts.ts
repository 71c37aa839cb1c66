/**
 * How an offer gets an agent's attention: a short tone (WebAudio, so no sound file;
 * the context is unlocked by the sign-in click, as browsers require a gesture), a
 * desktop notification when the agent allowed them and the page is not in front,
 * and the count in the tab's title.
 */
let audio: AudioContext | undefined;

export function unlockSound() {
  try { audio ??= new AudioContext(); void audio.resume(); } catch { /* no audio: the title and the list still show it */ }
}

export function ping() {
  document.body.dataset.pings = String(Number(document.body.dataset.pings ?? 0) + 1);
  if (!audio) { return; }
  const t = audio.currentTime;
  const tone = audio.createOscillator();
  const gain = audio.createGain();
  tone.frequency.setValueAtTime(880, t);
  tone.frequency.setValueAtTime(1320, t + 0.12);
  gain.gain.setValueAtTime(0.12, t);
  gain.gain.exponentialRampToValueAtTime(0.001, t + 0.35);
  tone.connect(gain).connect(audio.destination);
  tone.start(t);
  tone.stop(t + 0.35);
}

export function notify(title: string, body: string, onClick: () => void) {
  if (!("Notification" in window) || Notification.permission !== "granted" || document.visibilityState === "visible") { return; }
  const n = new Notification(title, { body, tag: title });
  n.onclick = () => { focus(); onClick(); n.close(); };
}

export function canNotify(): boolean {
  return "Notification" in window && Notification.permission === "default";
}

export function setTitle(base: string, count: number) {
  document.title = count > 0 ? `(${count}) ${base}` : base;
}
