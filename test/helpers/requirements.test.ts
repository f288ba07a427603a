import { afterEach, describe, expect, it, vi } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import { requirement } from "./requirements.ts";

/** The helper every machine-dependent suite uses: skip with the reason printed, or fail where required. */
describe("requirement", () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it("where the probe finds it: available, not skipped, get gives what it found, the title is unchanged", async () => {
    const r = await requirement("browser", () => E.right("/opt/chromium"));
    expect(r).toMatchObject({ available: true, reason: null, skip: false });
    expect(r.get()).toBe("/opt/chromium");
    expect(r.title("suite")).toBe("suite");
  });

  it("where it is missing and not required: skipped, with the reason printed and in the title", async () => {
    vi.stubEnv("RANKFUSE_REQUIRE_BROWSER", "");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const r = await requirement("browser", () => E.left("no Chromium at /x"));
    expect(r).toMatchObject({ available: false, reason: "no Chromium at /x", required: false, skip: true });
    expect(warn).toHaveBeenCalledWith(
      expect.stringMatching(
        /^skipped: headless Chromium is unavailable: no Chromium at \/x; set RANKFUSE_REQUIRE_BROWSER=1/,
      ),
    );
    expect(r.title("suite")).toBe("suite [skipped: headless Chromium is unavailable: no Chromium at /x]");
    expect(() => r.get()).toThrow(/no Chromium at \/x/);
  });

  it("where it is missing and its variable is set: not skipped, and get throws the reason naming the variable", async () => {
    vi.stubEnv("RANKFUSE_REQUIRE_NATIVE", "1");
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const r = await requirement("native", async () => E.left("no g++"));
    expect(r).toMatchObject({ available: false, required: true, skip: false });
    expect(error).toHaveBeenCalledWith(
      expect.stringMatching(/RANKFUSE_REQUIRE_NATIVE is set, but the native addon is unavailable: no g\+\+/),
    );
    expect(() => r.get()).toThrow("the native addon is unavailable and RANKFUSE_REQUIRE_NATIVE requires it: no g++");
  });

  it("counts a probe that throws as missing, and RANKFUSE_REQUIRE_*=0 as not required", async () => {
    vi.stubEnv("RANKFUSE_REQUIRE_WEBGPU", "0");
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const r = await requirement("webgpu", () => {
      throw new Error("Dawn did not load");
    });
    expect(r).toMatchObject({ available: false, reason: "Dawn did not load", required: false, skip: true });
  });
});
