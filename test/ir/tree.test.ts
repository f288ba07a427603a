import { describe, expect, it } from "vitest";
import { flatten, leafPaths, unflatten } from "../../ir/tree.ts";

const isNumber = (x: unknown): x is number => typeof x === "number";

describe("pytrees", () => {
  it("flatten and unflatten round-trip nested arrays and objects, leaves in order", () => {
    const tree = { a: 1, b: [2, { c: 3 }], d: { e: 4 } };
    const { leaves, def } = flatten(tree, isNumber);
    expect(leaves).toEqual([1, 2, 3, 4]);
    expect(leafPaths(def)).toEqual(["a", "b.0", "b.1.c", "d.e"]);
    expect(unflatten(def, leaves)).toEqual(tree);
  });

  it("take dictionaries without a prototype (Object.create(null), fast-check's records) as objects", () => {
    const dict = Object.assign(Object.create(null) as Record<string, number>, { A: 1, B: 2 });
    const { leaves, def } = flatten([dict], isNumber);
    expect(leaves).toEqual([1, 2]);
    expect(leafPaths(def)).toEqual(["0.A", "0.B"]);
  });

  it("refuse class instances and other leaves, naming where", () => {
    expect(() => flatten({ a: { b: new Date(0) } }, isNumber)).toThrow("pytree: unexpected leaf at .a.b: Date");
  });
});
