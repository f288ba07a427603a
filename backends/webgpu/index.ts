import * as E from "fp-ts/lib/Either.js";
import type { BackendModule } from "../../ir/backend.ts";
import { guardLoad } from "../guard.ts";

/**
 * WebGPU in Node through Dawn (the `webgpu` package), imported only when loaded. Auto takes it only on
 * a hardware adapter: a software one (llvmpipe, SwiftShader) is correct but slower than the CPU backends.
 * Browsers load it through browser.ts instead.
 */
export const webgpuModule: BackendModule<"webgpu"> = {
  name: "webgpu",
  priority: 40,
  autoPrecheck: async () => {
    const hw = await (await import("./node.ts")).probeAdapter(true);
    return E.isLeft(hw) ? hw.left : null;
  },
  load: () => guardLoad("webgpu", async () => E.right(await (await import("./node.ts")).webgpuBackendNode())),
};
