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

/** What an adapter says of itself: GPUAdapterInfo's strings (any may be missing or empty) and the fallback flag. */
export interface AdapterInfoLike {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly isFallbackAdapter?: boolean;
}

/**
 * Whether an adapter is a software rasterizer (SwiftShader, llvmpipe, lavapipe, softpipe, or one that
 * says "software" or that it is a fallback adapter). `fallback` is GPUAdapter.isFallbackAdapter, which
 * older browsers have on the adapter rather than on its info.
 */
export function isSoftwareAdapter(info: AdapterInfoLike, fallback = false): boolean {
  const text = [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(" ");
  return fallback || info.isFallbackAdapter === true || SOFTWARE.test(text);
}

/**
 * An adapter's info: `adapter.info` where the browser has it, else the older `requestAdapterInfo()`,
 * else nothing known. The fallback flag is read from the info or from the adapter.
 */
export async function adapterInfo(adapter: GPUAdapter): Promise<AdapterInfoLike> {
  const a = adapter as GPUAdapter & {
    readonly isFallbackAdapter?: boolean;
    requestAdapterInfo?: () => Promise<AdapterInfoLike>;
  };
  let info: AdapterInfoLike = {};
  if (a.info) info = a.info as AdapterInfoLike;
  else if (typeof a.requestAdapterInfo === "function") info = await a.requestAdapterInfo().catch(() => ({}));
  const { vendor, architecture, device, description } = info;
  const isFallbackAdapter = info.isFallbackAdapter === true || a.isFallbackAdapter === true;
  return { vendor, architecture, device, description, isFallbackAdapter };
}

/** The adapter's name as it gives it: "description, vendor, architecture, device", or "unnamed adapter". */
export const adapterName = (info: AdapterInfoLike): string =>
  [info.description, info.vendor, info.architecture, info.device].filter((s) => s).join(", ") || "unnamed adapter";

export function summarize(adapter: GPUAdapter, route: string): AdapterSummary {
  const info = adapter.info;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: isSoftwareAdapter(info, (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true),
    route,
  };
}

export const showAdapter = (a: AdapterSummary): string =>
  `${adapterName(a)} via ${a.route}, ${a.software ? "software adapter" : "hardware adapter"}`;

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
