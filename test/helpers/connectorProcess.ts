import { spawn, type ChildProcess } from "node:child_process";
import { ROOT } from "./server";

/** Starts a connector's main.ts as its own process and waits for its "listening" line. */
export async function startConnectorProcess(script: string, env: Record<string, string>): Promise<{ child: ChildProcess; output(): string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => { out += d; });
  child.stderr!.on("data", (d) => { out += d; });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill("SIGKILL"); reject(new Error(`connector did not start:\n${out}`)); }, 15_000);
    child.stdout!.on("data", () => { if (out.includes("listening")) { clearTimeout(timer); resolve(); } });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`connector exited with ${code}:\n${out}`)); });
  });
  return {
    child,
    output: () => out,
    async stop() { if (child.exitCode === null) { child.kill("SIGTERM"); } await exited; },
  };
}
