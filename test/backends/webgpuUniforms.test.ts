import { describe, expect, it } from "vitest";
import { dim } from "../../ir/dim.ts";
import { spec } from "../../dsl/spec.ts";
import * as op from "../../dsl/ops.ts";
import type { WebgpuBackend } from "../../backends/webgpu/backend.ts";
import { compile } from "../../run/compile.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { expectAllclose } from "../../testing/allclose.ts";
import { backendRequirement } from "../helpers/requirements.ts";

/**
 * Uniform blocks stay on the device (backends/webgpu/uniformCache.ts): the first run of a plan uploads
 * its dispatches' uniforms, a second run of the same shapes uploads none and computes the same values.
 */
const webgpu = await backendRequirement("webgpu");
const gpu = webgpu.skip ? null : (webgpu.get() as WebgpuBackend);

describe.skipIf(webgpu.skip)(webgpu.title("webgpu uniform cache"), () => {
  it("a second run of a plan writes no uniform to the queue and gives the same outputs", async () => {
    const [n, d] = [dim("n", 24), dim("d", 40)];
    const f = (x: any, w: any) => op.sum(op.mul(op.silu(op.matmul(x, w)), 0.5), -1);
    const c = unwrap(compile(f, { args: [spec([n, d]), spec([d, d])] as const, backend: gpu! }));
    const x = Float32Array.from({ length: 24 * 40 }, (_, i) => Math.sin(i));
    const w = Float32Array.from({ length: 40 * 40 }, (_, i) => Math.cos(i) / 8);
    const queue = gpu!.device.queue;
    const write = queue.writeBuffer.bind(queue);
    let writes = 0;
    queue.writeBuffer = ((...a: Parameters<GPUQueue["writeBuffer"]>) => (
      writes++,
      write(...a)
    )) as GPUQueue["writeBuffer"];
    try {
      const first = unwrap(await c.run(x, w)).out as Float32Array;
      const firstWrites = writes;
      const second = unwrap(await c.run(x, w)).out as Float32Array;
      expect(firstWrites).toBeGreaterThan(0);
      expect(writes - firstWrites).toBe(0);
      expectAllclose(second, first, { rtol: 0, atol: 0 });
    } finally {
      queue.writeBuffer = write;
    }
  });
});
