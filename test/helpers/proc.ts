import { readFileSync } from "node:fs";

/** Resident memory of a process in MB (VmRSS of /proc/<pid>/status). */
export function rssMb(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : 0;
}

/** utime + stime of a process, in clock ticks (1/100 s). */
export function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** Share of one core a process used since `ticks0` at `t0`. */
export function cpuShare(pid: number, ticks0: number, t0: number): string {
  try { return `${Math.round((100 * (cpuTicks(pid) - ticks0)) / ((Date.now() - t0) / 10))}%`; } catch { return "?"; }
}
