import fs from "node:fs";
import { execFileSync } from "node:child_process";

/** CPU (% of one core) and RSS of processes, sampled from /proc without any dependency. */
let ticks = 100;
try { ticks = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100; } catch { /* default */ }

export interface ProcSample { cpuPct: number; rssMB: number; alive: boolean }

export class ProcSampler {
  private last = new Map<number, { cpu: number; at: number }>();

  /** CPU since the previous call for that pid (percent of one core), and the current RSS. */
  sample(pid: number): ProcSample {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cpu = (Number(fields[11]) + Number(fields[12])) / ticks; // utime + stime, seconds
      const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const at = performance.now();
      const prev = this.last.get(pid);
      this.last.set(pid, { cpu, at });
      const cpuPct = prev ? (100 * (cpu - prev.cpu)) / ((at - prev.at) / 1000) : 0;
      return { cpuPct, rssMB: rssKb / 1024, alive: true };
    } catch {
      return { cpuPct: 0, rssMB: 0, alive: false };
    }
  }

  /** Total CPU seconds a process has used so far. */
  static cpuSeconds(pid: number): number {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return (Number(fields[11]) + Number(fields[12])) / ticks;
    } catch { return 0; }
  }
}

export function machineInfo() {
  const cpuinfo = fs.readFileSync("/proc/cpuinfo", "utf8");
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const memKb = Number(/MemTotal:\s+(\d+)/.exec(fs.readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0);
  let nproc = 0;
  try { nproc = Number(execFileSync("nproc").toString().trim()); } catch { nproc = 0; }
  return { nproc, cpuModel: model, ramGB: Math.round(memKb / 1024 / 1024 * 10) / 10, node: process.version, platform: `${process.platform} ${process.arch}` };
}
