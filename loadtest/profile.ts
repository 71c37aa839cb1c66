/**
 * Summarises a V8 .cpuprofile (written by the server under `--cpu-prof`, see
 * `npm run loadtest -- <scenario> --cpu-prof`): self time by function and by
 * package/file, so a bottleneck can be named without opening DevTools.
 * `npx tsx loadtest/profile.ts <file.cpuprofile> [top]`
 */
import fs from "node:fs";

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

export function summarise(file: string, top = 25) {
  const p: Profile = JSON.parse(fs.readFileSync(file, "utf8"));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let total = 0;
  p.samples.forEach((id, i) => { const dt = p.timeDeltas[i] ?? 0; self.set(id, (self.get(id) ?? 0) + dt); total += dt; });
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const url = n.callFrame.url.replace(/^file:\/\//, "");
    const where = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? (url ? url.replace(/^.*\/main\//, "") : `(${n.callFrame.functionName || "native"})`);
    const name = `${n.callFrame.functionName || "(anonymous)"} ${url ? `${url.replace(/^.*node_modules\//, "").replace(/^.*\/main\//, "")}:${n.callFrame.lineNumber + 1}` : ""}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    pkg.set(where, (pkg.get(where) ?? 0) + us);
  }
  const fmt = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, us]) => `${(100 * us / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`).join("\n");
  return `profile ${file}: ${(total / 1e6).toFixed(1)} s sampled\n\nself time by package / file:\n${fmt(pkg)}\n\nself time by function:\n${fmt(fn)}`;
}

if (require.main === module) {
  const [file, top] = process.argv.slice(2);
  if (!file) { console.error("usage: tsx loadtest/profile.ts <file.cpuprofile> [top]"); process.exit(1); }
  console.log(summarise(file, Number(top) || 25));
}
