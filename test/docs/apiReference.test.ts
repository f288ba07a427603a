import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { apiPagePath, readApi, renderApi } from "../../scripts/apiReference.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const api = readApi(ROOT);

describe("the API reference (docs/api.md)", () => {
  it("every export of every entry point has a doc comment", () => {
    const missing = [...api.entries()].flatMap(([s, es]) => es.filter((e) => !e.doc).map((e) => `${s}: ${e.name}`));
    expect(missing).toEqual([]);
  });

  it("is up to date with the entry points (npm run docs rewrites it)", () => {
    expect(fs.readFileSync(apiPagePath(ROOT), "utf8")).toBe(renderApi(api));
  });

  it("lists the names a user imports first", () => {
    const names = (s: string) => api.get(s)!.map((e) => e.name);
    expect(names("rankfuse")).toEqual(
      expect.arrayContaining(["dim", "spec", "compile", "plan", "loadBackend", "valueAndGrad"]),
    );
    expect(names("rankfuse/methods")).toEqual(expect.arrayContaining(["makeModel", "METHODS"]));
    expect(names("rankfuse/testing")).toEqual(expect.arrayContaining(["allclose", "checkGrads"]));
  });
});
