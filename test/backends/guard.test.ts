import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { guardLoad } from "../../backends/guard.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";

/** guardLoad: every way a factory fails becomes one BackendUnavailable value, never a rejected promise. */
describe("guardLoad", () => {
  it("passes a loaded backend through", async () => {
    const be = referenceBackend();
    expect(await guardLoad("x", async () => E.right(be))).toEqual(E.right(be));
  });

  it("a factory that throws is a Left with the usual wording, not a rejection", async () => {
    const r = await guardLoad("x", async () => {
      throw new Error("no such addon");
    });
    expect(r).toEqual(
      E.left({ tag: "BackendUnavailable", backend: "x", message: "backend x failed to load: no such addon" }),
    );
  });

  it("a factory's Left gets the same wording", async () => {
    expect(await guardLoad("x", async () => E.left("g++ not found"))).toEqual(
      E.left({ tag: "BackendUnavailable", backend: "x", message: "backend x failed to load: g++ not found" }),
    );
  });

  it("explain words the reason where it is already the whole story", async () => {
    const r = await guardLoad(
      "x",
      async () => E.left("install x-gpu"),
      (why) => why,
    );
    expect(E.isLeft(r) && r.left.message).toBe("install x-gpu");
  });

  it("a thrown non-Error still becomes a message", async () => {
    const r = await guardLoad("x", () => Promise.reject("plain string"));
    expect(E.isLeft(r) && r.left.message).toBe("backend x failed to load: plain string");
  });
});
