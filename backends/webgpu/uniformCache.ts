import type { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";

/** A uniform as tfjs's programs describe it: a small array of numbers and its element type. */
type ProgramUniform = { type: string; data: number[] }[];
type UniformBinding = { offset: number; size: number; buffer: GPUBuffer };

/** How many distinct uniform blocks stay on the device (a training step's plan uses a few hundred). */
export const UNIFORM_CACHE_ENTRIES = 4096;

/**
 * Keeps every dispatch's uniform block (shapes, strides, sizes) on the device and reuses it when the
 * same block comes again, instead of tfjs's upload of a fresh block per dispatch. A training step runs
 * the same shapes every time, so after the first step no uniform crosses from the host: only the
 * batch does. On a miss tfjs packs and uploads the block as before; the buffer is then kept out of its
 * end-of-submit release and held here (least recently used blocks go back to tfjs's pool).
 */
export function cacheUniforms(gpu: WebGPUBackend): { readonly uploads: () => number } {
  const internal = gpu as unknown as {
    makeUniforms(u: ProgramUniform): UniformBinding;
    uniformPendingDisposal: GPUBuffer[];
  };
  const make = internal.makeUniforms.bind(gpu);
  const cache = new Map<string, UniformBinding>();
  let uploads = 0;
  internal.makeUniforms = (u: ProgramUniform) => {
    const key = JSON.stringify(u.map((d) => [d.type, d.data]));
    const hit = cache.get(key);
    if (hit) {
      cache.delete(key); // re-inserted: Map order is the recency order
      cache.set(key, hit);
      return hit;
    }
    const made = make(u);
    uploads++;
    // tfjs pushed the buffer for release after this submit; it is ours now
    const pending = internal.uniformPendingDisposal;
    if (pending[pending.length - 1] === made.buffer) pending.pop();
    cache.set(key, made);
    if (cache.size > UNIFORM_CACHE_ENTRIES) {
      const [oldest, old] = cache.entries().next().value as [string, UniformBinding];
      cache.delete(oldest);
      pending.push(old.buffer); // back to tfjs's pool once the work that may read it is submitted
    }
    return made;
  };
  return { uploads: () => uploads };
}
