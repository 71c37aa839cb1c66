import fs from "node:fs";
import http from "node:http";

/** Raw HTTP for hostile-input tests: bodies streamed by hand, answers kept whole. */
export interface Answer { status: number; headers: http.IncomingHttpHeaders; body: string; ms: number; sent: number }

/**
 * Sends a request (no agent, no body helper buffering it): `total` bytes in
 * `chunk`-sized writes (chunked unless a Content-Length is given), and stops writing
 * as soon as the answer arrives or the server closes the connection.
 */
export function send(url: string, method: string, path: string, opts: { headers?: Record<string, string>; total?: number; chunk?: number; body?: string } = {}): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { method, headers: opts.headers, agent: false });
    let sent = 0;
    let answered = false;
    req.on("response", (res) => {
      answered = true;
      let body = "";
      res.on("data", (d) => { body += d; });
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body, ms: Date.now() - started, sent }));
      res.on("error", () => resolve({ status: res.statusCode!, headers: res.headers, body, ms: Date.now() - started, sent }));
    });
    req.on("error", (e) => { if (!answered) { reject(e); } });
    if (opts.body !== undefined) { req.end(opts.body); return; }
    if (!opts.total) { req.end(); return; }
    const piece = Buffer.alloc(opts.chunk ?? 64 * 1024, "a");
    const pump = () => {
      while (!answered && !req.destroyed && sent < opts.total!) {
        sent += piece.length;
        if (!req.write(piece)) { req.once("drain", pump); return; }
      }
      if (!answered && !req.destroyed) { req.end(); }
    };
    req.flushHeaders();
    pump();
  });
}

export function rssKb(pid: number): number {
  return Number(fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m)![1]);
}
