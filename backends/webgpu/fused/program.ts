/**
 * A fused WGSL program in the style of tfjs's WebGPUProgram (a small object: names of its buffers, a
 * workgroup size, a dispatch, a `shaderKey` that caches the compiled pipeline, and `getUserCode()`),
 * with one difference that fused chains need: several outputs. tfjs binds exactly one read-write
 * output, so these programs run through runner.ts, on tfjs's device, buffers and command encoder.
 *
 * Sizes are i32 uniforms (`sizes.<name>`), not constants, so one pipeline serves every token count
 * and width; only what shapes the generated code (kind, activation, epilogue, outputs, rank tile,
 * tile sizes, dtype) goes in the key.
 */
export interface FusedProgram {
  /** Read-only f32 storage buffers, bound after the outputs. */
  readonly variableNames: readonly string[];
  /** Read-write f32 storage buffers, bound first. */
  readonly outputNames: readonly string[];
  /** i32 uniforms in binding order, readable as `sizes.<name>`. */
  readonly uniformNames: readonly string[];
  readonly workgroupSize: readonly [number, number, number];
  /** Buffers as array<vec4<f32>> (every width a multiple of 4) instead of array<f32>. */
  readonly vec4?: boolean;
  /** Everything that changes the WGSL text. */
  readonly shaderKey: string;
  /** WGSL defining `fn main(tid : i32, grp : i32, wid : vec2<i32>)`. */
  getUserCode(): string;
}

/** One launch of a program: its workgroup grid and the values of its uniforms. */
export interface FusedLaunch {
  readonly program: FusedProgram;
  readonly dispatch: readonly [number, number, number];
  readonly uniforms: readonly number[];
}

/** The whole shader: bindings (outputs, inputs, uniforms), the program's code, the entry point. */
export function makeShader(p: FusedProgram): string {
  const lines = [`// rankfuse fused kernel ${p.shaderKey}`];
  if (p.uniformNames.length) lines.push(`struct Sizes { ${p.uniformNames.map((u) => `${u} : i32`).join(", ")} };`);
  let b = 0;
  const elem = p.vec4 ? "vec4<f32>" : "f32";
  for (const o of p.outputNames)
    lines.push(`@group(0) @binding(${b++}) var<storage, read_write> ${o} : array<${elem}>;`);
  for (const v of p.variableNames) lines.push(`@group(0) @binding(${b++}) var<storage, read> ${v} : array<${elem}>;`);
  if (p.uniformNames.length) lines.push(`@group(0) @binding(${b++}) var<uniform> sizes : Sizes;`);
  const [x, y, z] = p.workgroupSize;
  lines.push(
    p.getUserCode(),
    `@compute @workgroup_size(${x}, ${y}, ${z})
fn _start(@builtin(local_invocation_index) li : u32, @builtin(workgroup_id) wg : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  main(i32(li), i32(wg.y * nwg.x + wg.x), vec2<i32>(i32(wg.x), i32(wg.y)));
}`,
  );
  return lines.join("\n");
}

/**
 * A 1-D grid of `groups` workgroups folded into x and y where it exceeds the per-dimension limit
 * (main's `grp` is the flat index; workgroups past the end find no rows and write nothing).
 */
export function flatGrid(groups: number, maxPerDim: number): [number, number, number] {
  const g = Math.max(groups, 1);
  if (g <= maxPerDim) return [g, 1, 1];
  const y = Math.ceil(g / maxPerDim);
  if (y > maxPerDim) throw new Error(`fused kernel: ${g} workgroups exceed a ${maxPerDim} x ${maxPerDim} grid`);
  return [Math.ceil(g / y), y, 1];
}
