import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * models/ and methods/ are written in the shape types: no `as never` and no `as unknown as` (which would
 * switch the checks off), and a downcast of a tensor type only where the types cannot follow a value, each
 * one listed here and explained by a comment just above it.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The TypeScript sources under `dir`, as [path relative to the root, lines]. */
function sources(dir: string): [string, string[]][] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((ent) => {
    const rel = `${dir}/${ent.name}`;
    if (ent.isDirectory()) return sources(rel);
    return ent.name.endsWith(".ts") ? [[rel, fs.readFileSync(path.join(ROOT, rel), "utf8").split("\n")]] : [];
  });
}
const files = [...sources("models"), ...sources("methods")];

/** `file:line` of every line matching `pattern`. */
const where = (pattern: RegExp) =>
  files.flatMap(([rel, lines]) => lines.flatMap((l, i) => (pattern.test(l) ? [`${rel}:${i + 1}`] : [])));

/** The downcasts the types cannot avoid, per file. */
const KNOWN_DOWNCASTS: Record<string, number> = {
  // Y_{ℓ−1} comes back out of a map keyed by projection name
  "methods/crnet/decoder.ts": 1,
  // the block-shuffle factors' axes are anonymous, so nothing names the output width
  "methods/structuredFfn/layers.ts": 1,
};

describe("no casts around the shape types in models/ and methods/", () => {
  it("reads the sources", () => {
    expect(files.length).toBeGreaterThan(20);
  });

  it("no `as never`", () => {
    expect(where(/\bas never\b/)).toEqual([]);
  });

  it("no `as unknown as`", () => {
    expect(where(/\bas unknown as\b/)).toEqual([]);
  });

  it("downcasts of tensor types are the known few, each explained by a comment above it", () => {
    const casts = where(/\bas (Tensor|T)</);
    const perFile: Record<string, number> = {};
    for (const c of casts) perFile[c.split(":")[0]!] = (perFile[c.split(":")[0]!] ?? 0) + 1;
    expect(perFile).toEqual(KNOWN_DOWNCASTS);
    for (const c of casts) {
      const [rel, line] = c.split(":");
      const lines = files.find(([f]) => f === rel)![1];
      const above = lines.slice(Math.max(0, Number(line) - 4), Number(line) - 1);
      expect(
        above.some((l) => l.trim().startsWith("//")),
        `${c} needs a comment saying why`,
      ).toBe(true);
    }
  });
});
