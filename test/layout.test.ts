import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { CustomerRoom } from "../rooms/CustomerRoom";
import { RoomActor } from "../rooms/RoomActor";
import { TeamRoom } from "../rooms/TeamRoom";
import { ROOT } from "./helpers/server";

/** The layering rules of docs/architecture.md, checked on the sources. */

const SOURCE_DIRS = ["server", "rooms", "conversation", "desk", "schema", "client", "web/src", "examples", "connectors"];

function sources(dir: string): string[] {
  const full = path.join(ROOT, dir);
  if (!fs.existsSync(full)) { return []; }
  return fs.readdirSync(full, { withFileTypes: true }).flatMap((entry) => {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) { return sources(rel); }
    return /\.tsx?$/.test(entry.name) ? [rel] : [];
  });
}

/** Top folders (or server/ sublayers) a file imports from, relative imports only. */
function importedLayers(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), "utf8");
  const layers: string[] = [];
  for (const match of text.matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gm)) {
    const target = path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), match[1]));
    layers.push(target);
  }
  return layers;
}

describe("layout: the layers of docs/architecture.md", () => {
  const files = SOURCE_DIRS.flatMap(sources);

  it("no source file outside loadtest/ and test/ is over 400 lines", () => {
    const long = files
      .map((file) => [file, fs.readFileSync(path.join(ROOT, file), "utf8").split("\n").length] as const)
      .filter(([, lines]) => lines > 400);
    assert.deepEqual(long, []);
  });

  it("nothing under server/ imports rooms/ except the wiring that registers them", () => {
    const offenders = files
      .filter((file) => file.startsWith("server/") && !file.startsWith("server/wiring/"))
      .filter((file) => importedLayers(file).some((target) => target.startsWith("rooms")));
    assert.deepEqual(offenders, []);
  });

  it("conversation/ and desk/ never import rooms/; below them, server/ imports neither (the HTTP API may page history)", () => {
    const up = (file: string, targets: string[]) => importedLayers(file).some((t) => targets.some((prefix) => t.startsWith(prefix)));
    const offenders = [
      ...files.filter((f) => (f.startsWith("conversation/") || f.startsWith("desk/")) && up(f, ["rooms"])),
      ...files.filter((f) => f.startsWith("server/") && !f.startsWith("server/wiring/") && !f.startsWith("server/http/")
        && up(f, ["conversation", "desk"])),
    ];
    assert.deepEqual(offenders, []);
  });

  it("the store layer imports only itself and the base modules", () => {
    const base = ["server/errors", "server/config", "server/logger", "server/metrics", "server/ids", "server/text"];
    const offenders = files
      .filter((file) => file.startsWith("server/store/"))
      .flatMap((file) => importedLayers(file).filter((t) => !t.startsWith("server/store/") && !base.includes(t)).map((t) => `${file} -> ${t}`));
    assert.deepEqual(offenders, []);
  });

  it("connectors are processes of their own: they import nothing but connectors/ (they use the connector API over HTTP)", () => {
    const offenders = files
      .filter((file) => file.startsWith("connectors/"))
      .flatMap((file) => importedLayers(file).filter((t) => !t.startsWith("connectors/")).map((t) => `${file} -> ${t}`));
    assert.deepEqual(offenders, []);
  });

  it("the team room does not extend the customer room; both are the one thin actor", () => {
    assert.ok(!(TeamRoom.prototype instanceof CustomerRoom));
    assert.ok(TeamRoom.prototype instanceof RoomActor);
    assert.ok(CustomerRoom.prototype instanceof RoomActor);
  });
});
