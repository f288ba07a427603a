import { describe, expect, it, vi } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import type { BackendModule } from "../../ir/backend.ts";
import { backendUnavailable } from "../../ir/errors.ts";
import { autoOrder, pickFirst } from "../../backends/auto.ts";
import { referenceBackend } from "../../backends/reference/backend.ts";

/** Auto's rules, on stand-in modules so every outcome (skip, fail, load) can be forced. */
const fake = (name: string, priority: number, outcome: "loads" | "fails", precheck?: string | null) => {
  const load = vi.fn(async () =>
    outcome === "loads"
      ? E.right({ ...referenceBackend(), name })
      : E.left(backendUnavailable(name, `backend ${name} failed to load: broken`)),
  );
  const m: BackendModule = {
    name,
    priority,
    load,
    ...(precheck !== undefined ? { autoPrecheck: async () => precheck } : {}),
  };
  return { m, load };
};

describe("autoOrder", () => {
  it("sorts by priority, highest first, leaves priority 0 out and keeps list order on ties", () => {
    const mods = [
      fake("low", 1, "loads"),
      fake("never", 0, "loads"),
      fake("high", 9, "loads"),
      fake("tieA", 5, "loads"),
      fake("tieB", 5, "loads"),
    ].map((f) => f.m);
    expect(autoOrder(mods).map((m) => m.name)).toEqual(["high", "tieA", "tieB", "low"]);
  });

  it("does not reorder the list it is given", () => {
    const mods = [fake("a", 1, "loads").m, fake("b", 2, "loads").m];
    autoOrder(mods);
    expect(mods.map((m) => m.name)).toEqual(["a", "b"]);
  });
});

describe("pickFirst", () => {
  it("takes the highest-priority module that loads and says why it passed over the others", async () => {
    const skipped = fake("gpu", 30, "loads", "no hardware adapter");
    const broken = fake("addon", 20, "fails", null);
    const good = fake("portable", 10, "loads");
    const later = fake("slow", 5, "loads");
    const { backend, passedOver } = await pickFirst([later.m, good.m, broken.m, skipped.m]);
    expect(backend?.name).toBe("portable");
    expect(passedOver).toEqual(["gpu: no hardware adapter", "backend addon failed to load: broken"]);
    // a precheck's skip costs no load, and nothing after the pick is loaded
    expect(skipped.load).not.toHaveBeenCalled();
    expect(later.load).not.toHaveBeenCalled();
  });

  it("never tries a priority-0 module, even when nothing else loads", async () => {
    const never = fake("oracle", 0, "loads");
    const { backend, passedOver } = await pickFirst([fake("a", 2, "fails").m, never.m]);
    expect(backend).toBeNull();
    expect(passedOver).toEqual(["backend a failed to load: broken"]);
    expect(never.load).not.toHaveBeenCalled();
  });
});
