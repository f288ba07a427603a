/// <reference types="@webgpu/types" />
/**
 * Browser-safe adapter handling shared by Node (Dawn) and browsers: what an adapter is, whether it is
 * a software rasterizer, and a device with the adapter's real limits (the defaults, and in compatibility
 * mode especially, are far below what tfjs's matmul and rankfuse's fused kernels need).
 */
export interface AdapterSummary {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** llvmpipe, lavapipe, SwiftShader or an adapter that says it is a fallback: right answers, CPU speed. */
  readonly software: boolean;
  /** How it was reached, e.g. "Dawn OpenGL (compatibility)" or "navigator.gpu". */
  readonly route: string;
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software/i;

export function summarize(adapter: GPUAdapter, route: string): AdapterSummary {
  const info = adapter.info;
  const text = [info.vendor, info.architecture, info.device, info.description].join(" ");
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: fallback || SOFTWARE.test(text),
    route,
  };
}

export const showAdapter = (a: AdapterSummary): string =>
  `${[a.description, a.vendor, a.architecture, a.device].filter((s) => s).join(", ") || "unnamed adapter"} via ${a.route}, ${a.software ? "software adapter" : "hardware adapter"}`;

/** The limits tfjs and the fused kernels press against; each is raised to what the adapter offers. */
const RAISED_LIMITS = [
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "maxUniformBufferBindingSize",
] as const;

export async function requestFullDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const k of RAISED_LIMITS) requiredLimits[k] = adapter.limits[k];
  return adapter.requestDevice({ requiredLimits });
}
