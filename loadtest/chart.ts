/**
 * A hand-written SVG: delivery latency (p50, p99 per 2 s interval), delivered
 * messages per second, CPU of the server and of the load generator, and the
 * generator's own event-loop delay (when it stalls, the latencies it records are its
 * own), over time, one colour per target of the invocation.
 */
import type { TargetResult } from "./index";

const COLORS: Record<string, string> = { "ws-relay": "#2b8a3e", "colyseus-relay": "#1971c2" };
const MAIN_COLOR = "#c92a2a";
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

function niceMax(v: number) {
  if (v <= 0) { return 1; }
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) { if (m * p >= v) { return m * p; } }
  return 10 * p;
}

function panel(title: string, y0: number, width: number, height: number, runs: TargetResult[], pick: (r: TargetResult) => { label: string; dash: string; pts: [number, number][] }[], unit: string, limit?: number) {
  const left = 70; const right = 20; const plotW = width - left - right; const plotH = height - 50;
  const series = runs.flatMap((r) => pick(r).map((s) => ({ ...s, color: COLORS[r.target] ?? MAIN_COLOR, target: r.target })));
  const tMax = niceMax(Math.max(1, ...series.flatMap((s) => s.pts.map((p) => p[0]))));
  const vMax = niceMax(Math.max(limit ?? 0, ...series.flatMap((s) => s.pts.map((p) => p[1]))) * 1.05);
  const x = (t: number) => left + (t / tMax) * plotW;
  const y = (v: number) => y0 + 30 + plotH - (Math.min(v, vMax) / vMax) * plotH;
  const out: string[] = [];
  out.push(`<text x="${left}" y="${y0 + 18}" font-size="14" font-weight="bold">${esc(title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (vMax * i) / 5;
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#e9ecef"/>`);
    out.push(`<text x="${left - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end">${Number(v.toPrecision(3))}${unit}</text>`);
  }
  for (let i = 0; i <= 10; i++) {
    const t = (tMax * i) / 10;
    out.push(`<text x="${x(t)}" y="${y0 + 30 + plotH + 16}" font-size="11" text-anchor="middle">${Math.round(t)}s</text>`);
  }
  if (limit) { out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(limit)}" y2="${y(limit)}" stroke="#f08c00" stroke-dasharray="6 3"/><text x="${left + plotW - 4}" y="${y(limit) - 4}" font-size="11" text-anchor="end" fill="#f08c00">${limit}${unit} limit</text>`); }
  out.push(`<rect x="${left}" y="${y0 + 30}" width="${plotW}" height="${plotH}" fill="none" stroke="#adb5bd"/>`);
  for (const s of series) {
    if (!s.pts.length) { continue; }
    const d = s.pts.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ");
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6" ${s.dash ? `stroke-dasharray="${s.dash}"` : ""}/>`);
  }
  let ly = y0 + 42;
  for (const s of series) {
    out.push(`<line x1="${left + 10}" x2="${left + 34}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2" ${s.dash ? `stroke-dasharray="${s.dash}"` : ""}/><text x="${left + 40}" y="${ly}" font-size="11">${esc(s.target)} ${esc(s.label)}</text>`);
    ly += 14;
  }
  return out.join("\n");
}

export function renderChart(title: string, runs: TargetResult[], limitMs: number): string {
  const width = 900; const h = 300;
  const latency = panel("End-to-end delivery latency (per 2 s interval)", 30, width, h, runs, (r) => [
    { label: "p99", dash: "", pts: r.series.filter((p) => p.p99 > 0).map((p) => [p.t, p.p99]) },
    { label: "p50", dash: "4 3", pts: r.series.filter((p) => p.p50 > 0).map((p) => [p.t, p.p50]) },
  ], " ms", limitMs);
  const throughput = panel("Delivered messages per second", 30 + h + 20, width, h, runs, (r) => [
    { label: "delivered/s", dash: "", pts: r.series.map((p) => [p.t, p.deliveredPerSec]) },
  ], "");
  const cpu = panel("CPU, % of one core (server solid, load generator dashed)", 30 + 2 * (h + 20), width, h, runs, (r) => [
    { label: "server", dash: "", pts: r.series.map((p) => [p.t, p.serverCpuPct]) },
    { label: "generator", dash: "4 3", pts: r.series.map((p) => [p.t, p.genCpuPct]) },
  ], "%");
  const genLoop = panel("Load generator's event-loop delay p99 (worst worker)", 30 + 3 * (h + 20), width, h, runs, (r) => [
    { label: "generator loop p99", dash: "", pts: r.series.map((p) => [p.t, p.genLoopP99Ms ?? 0]) },
  ], " ms");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${4 * h + 110}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${width / 2}" y="20" font-size="15" text-anchor="middle">${esc(title)}</text>
${latency}
${throughput}
${cpu}
${genLoop}
</svg>
`;
}
