/// <reference types="@webgpu/types" />
import { RankfuseException, type RankfuseError } from "../../ir/errors.ts";

/**
 * WebGPU reports validation, out-of-memory and internal errors asynchronously instead of throwing, so
 * a bad kernel would otherwise just yield zeros. Every dispatch runs inside pushed error scopes; the
 * popped results (and anything the device reports outside a scope, e.g. at a deferred submit) are
 * collected here and `check()` turns the first one into a RankfuseException before any result is read.
 */
export class GpuErrorLog {
  private pending: Promise<string | null>[] = [];
  private uncaptured: string[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly backendName: string,
  ) {
    device.addEventListener("uncapturederror", (ev) =>
      this.uncaptured.push((ev as GPUUncapturedErrorEvent).error.message),
    );
  }

  /** Runs `fn` inside validation, out-of-memory and internal error scopes, labelled for the message. */
  scoped<T>(label: string, fn: () => T): T {
    const d = this.device;
    d.pushErrorScope("internal");
    d.pushErrorScope("out-of-memory");
    d.pushErrorScope("validation");
    try {
      return fn();
    } finally {
      const scopes = [d.popErrorScope(), d.popErrorScope(), d.popErrorScope()];
      this.pending.push(Promise.all(scopes).then((errs) => firstMessage(label, errs)));
    }
  }

  /** Throws the first GPU error since the last check, as one readable rankfuse error. */
  async check(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    const found =
      (await Promise.all(pending)).find((m) => m !== null) ??
      (this.uncaptured.length ? `outside a kernel: ${this.uncaptured[0]}` : null);
    this.uncaptured = [];
    if (found !== null) throw new RankfuseException(this.toError(found));
  }

  private toError(message: string): RankfuseError {
    const op = message.split(":")[0]!;
    return /out of memory/i.test(message)
      ? { tag: "ConfigError", message: `${this.backendName}: out of GPU memory in ${message}` }
      : {
          tag: "UnsupportedOp",
          op,
          backend: this.backendName,
          message: `${this.backendName}: GPU error in ${message}`,
        };
  }
}

function firstMessage(label: string, errs: (GPUError | null)[]): string | null {
  const [validation, oom, internal] = errs; // scopes pop innermost first
  if (validation) return `${label}: validation: ${oneLine(validation.message)}`;
  if (oom) return `${label}: out of memory: ${oneLine(oom.message)}`;
  if (internal) return `${label}: internal: ${oneLine(internal.message)}`;
  return null;
}

const oneLine = (s: string) => s.replace(/\s+/g, " ").trim().slice(0, 300);
