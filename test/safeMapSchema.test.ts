import assert from "node:assert/strict";
import { Encoder, Reflection, Schema, type } from "@colyseus/schema";
import { SafeMapSchema } from "../schema/SafeMapSchema";

class Item extends Schema { @type("string") label = ""; }
class Holder extends Schema { @type({ map: Item }) items = new SafeMapSchema<Item>(); }

const NAMES = ["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty", "isPrototypeOf", "ordinary"];

describe("SafeMapSchema (keys named like object internals)", () => {
  it("adds, replaces, deletes and re-adds such keys, and a client decodes every step", () => {
    const state = new Holder();
    const encoder = new Encoder(state);
    const decoder = Reflection.decode<any>(Reflection.encode(encoder));
    const sync = () => { decoder.decode(encoder.encode()); encoder.discardChanges(); };
    const item = (label: string) => Object.assign(new Item(), { label });

    for (const name of NAMES) { state.items.set(name, item(name)); }
    decoder.decode(encoder.encodeAll());
    for (const name of NAMES) { state.items.get(name)!.label = `${name}!`; }
    sync();
    state.items.delete("constructor");
    state.items.delete("__proto__");
    sync();
    state.items.set("constructor", item("again"));
    state.items.set("toString", item("replaced"));
    sync();

    const seen = decoder.state.items;
    assert.deepEqual([...seen.keys()].sort(), NAMES.filter((n) => n !== "__proto__").sort());
    assert.equal(seen.get("constructor").label, "again");
    assert.equal(seen.get("toString").label, "replaced");
    assert.equal(seen.get("valueOf").label, "valueOf!");
    assert.equal(state.items.size, NAMES.length - 1);
  });
});
