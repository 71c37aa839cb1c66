import type { IncomingMessage, ServerResponse } from "node:http";
import { refuse } from "./respond";

/**
 * Reads every HTTP request body before anything else sees it, counting bytes as they
 * arrive: Colyseus' matchmaking route (better-call's `getRequest`) reads bodies of
 * any size into memory before authentication, and express' parsers run only where
 * they are mounted. A declared Content-Length over the cap is refused unread; a
 * chunked body is cut as soon as it passes the cap. Compressed bodies are refused
 * (no client of ours compresses requests, and inflating is a decompression bomb).
 *
 * On success the parsed body is left in `req.body` with the stream consumed: Colyseus
 * (`getRequest` uses `req.body` when present) and express' body-parser (skips a
 * finished request) both take it from there, as with Colyseus' own serverless
 * pre-reading.
 */
export function readBodyWithin(
  req: IncomingMessage & { body?: unknown },
  res: ServerResponse,
  maxBytes: number,
  next: () => void,
) {
  const length = req.headers["content-length"];
  const chunked = req.headers["transfer-encoding"] !== undefined;
  if (!chunked && !(Number(length) > 0)) { next(); return; }

  const encoding = String(req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "") {
    refuse(req, res, 415, "unsupported_encoding", "request bodies are accepted without Content-Encoding only", true);
    return;
  }
  if (Number(length) > maxBytes) {
    refuse(req, res, 413, "payload_too_large", `body over ${maxBytes} bytes`, true);
    return;
  }

  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  req.on("data", (chunk: Buffer) => {
    if (done) { return; }
    size += chunk.length;
    if (size > maxBytes) {
      done = true;
      chunks.length = 0;
      refuse(req, res, 413, "payload_too_large", `body over ${maxBytes} bytes`, true);
      return;
    }
    chunks.push(chunk);
  });
  req.on("error", () => { done = true; });
  req.on("end", () => {
    if (done) { return; }
    done = true;
    const raw = Buffer.concat(chunks).toString("utf8");
    if (/^application\/([a-z0-9.+-]*\+)?json/i.test(String(req.headers["content-type"] ?? ""))) {
      try {
        req.body = JSON.parse(raw);
      } catch {
        refuse(req, res, 400, "invalid_payload", "body is not JSON");
        return;
      }
    } else {
      req.body = raw;
    }
    next();
  });
}
