/**
 * Software-adapter detection on fake adapter infos (no GPU needed): what the playground's `auto` uses to
 * pass over SwiftShader in headless Chromium, and what the webgpu backend reports as "software adapter".
 */
import { describe, expect, it } from "vitest";
import { adapterInfo, adapterName, isSoftwareAdapter, summarize } from "../../backends/webgpu/adapter.ts";

const blank = { vendor: "", architecture: "", device: "", description: "" };

describe("isSoftwareAdapter", () => {
  it.each([
    ["Chromium's SwiftShader", { vendor: "google", architecture: "swiftshader", device: "", description: "" }],
    ["SwiftShader named in the description", { ...blank, description: "SwiftShader Device (Subzero)" }],
    [
      "Mesa llvmpipe",
      { vendor: "mesa", architecture: "", device: "", description: "llvmpipe (LLVM 15.0.6, 256 bits)" },
    ],
    ["Mesa lavapipe", { ...blank, description: "Vulkan: lavapipe" }],
    ["a vendor that says software", { ...blank, vendor: "Some Software Renderer" }],
    ["the fallback flag in the info", { ...blank, vendor: "nvidia", isFallbackAdapter: true }],
  ])("%s is software", (_, info) => expect(isSoftwareAdapter(info)).toBe(true));

  it.each([
    ["an NVIDIA GPU", { vendor: "nvidia", architecture: "hopper", device: "", description: "NVIDIA H100" }],
    ["Apple silicon", { vendor: "apple", architecture: "metal-3", device: "", description: "" }],
    ["Intel integrated", { vendor: "intel", architecture: "gen-12lp", device: "", description: "" }],
    ["an adapter that says nothing", blank],
    ["an info with missing fields", {}],
  ])("%s is hardware", (_, info) => expect(isSoftwareAdapter(info)).toBe(false));

  it("takes the fallback flag older browsers put on the adapter", () => {
    expect(isSoftwareAdapter({ vendor: "nvidia" }, true)).toBe(true);
  });
});

/** A fake GPUAdapter with what adapterInfo and summarize read. */
const fake = (a: object) => a as unknown as GPUAdapter;

describe("adapterInfo", () => {
  it("reads adapter.info", async () => {
    const info = await adapterInfo(fake({ info: { vendor: "google", architecture: "swiftshader" } }));
    expect(info).toMatchObject({ vendor: "google", architecture: "swiftshader", isFallbackAdapter: false });
    expect(isSoftwareAdapter(info)).toBe(true);
  });

  it("falls back to requestAdapterInfo() and the adapter's isFallbackAdapter in older browsers", async () => {
    const info = await adapterInfo(
      fake({ isFallbackAdapter: true, requestAdapterInfo: async () => ({ ...blank, vendor: "intel" }) }),
    );
    expect(info).toMatchObject({ vendor: "intel", isFallbackAdapter: true });
    expect(isSoftwareAdapter(info)).toBe(true);
  });

  it("knows nothing where the adapter tells nothing, or requestAdapterInfo() fails", async () => {
    expect(isSoftwareAdapter(await adapterInfo(fake({})))).toBe(false);
    const failing = await adapterInfo(fake({ requestAdapterInfo: () => Promise.reject(new Error("no")) }));
    expect(adapterName(failing)).toBe("unnamed adapter");
  });
});

describe("summarize", () => {
  it("says software for SwiftShader and hardware for a GPU", () => {
    const swift = summarize(
      fake({ info: { ...blank, vendor: "google", architecture: "swiftshader" } }),
      "navigator.gpu",
    );
    expect(swift.software).toBe(true);
    expect(summarize(fake({ info: { ...blank, vendor: "nvidia", description: "NVIDIA H100" } }), "x").software).toBe(
      false,
    );
  });
});
