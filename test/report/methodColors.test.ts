import { describe, expect, it } from "vitest";
import { METHODS } from "../../methods/index.ts";
import { methodColor, PALETTE } from "../../report/methodColors.ts";

describe("methodColor", () => {
  it("gives every built-in method its own colour", () => {
    expect(new Set(METHODS.map(methodColor)).size).toBe(METHODS.length);
  });
  it("gives a name the same colour every time, and an unknown name one from the palette", () => {
    expect(methodColor("./my-method.ts")).toBe(methodColor("./my-method.ts"));
    expect(PALETTE).toContain(methodColor("./my-method.ts"));
    expect(methodColor("cola")).toBe(PALETTE[METHODS.indexOf("cola")]);
  });
});
