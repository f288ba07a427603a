/** The messages between the page (main.ts) and the training worker (worker.ts). */
import type { PlanSummary } from "./planSummary.ts";
import type { StepReport } from "./session.ts";

export type BackendChoice = "auto" | "webgpu" | "wasm";

export interface RunRequest {
  readonly method: string;
  readonly preset: string;
  readonly rank?: number;
  readonly backend: BackendChoice;
  readonly steps: number;
  readonly lr: number;
  readonly evalEvery: number;
  readonly sampleEvery: number;
  readonly sampleBytes: number;
  /** 0 samples greedily. */
  readonly temperature: number;
  readonly text: string;
  readonly textName: string;
}

export type ToWorker =
  | { readonly type: "start"; readonly run: RunRequest }
  | { readonly type: "stop" }
  | { readonly type: "resume" }
  | { readonly type: "weights" }
  | { readonly type: "shader"; readonly kernel: number };

export type RunState = "loading" | "compiling" | "training" | "stopped" | "done" | "error";

export type FromWorker =
  | { readonly type: "state"; readonly state: RunState; readonly note?: string }
  | {
      readonly type: "backend";
      readonly name: string;
      readonly describe: string;
      readonly fusedKinds: readonly string[];
      readonly note?: string;
    }
  | {
      readonly type: "model";
      readonly text: string;
      readonly params: number;
      readonly steps: number;
      readonly tokensPerStep: number;
    }
  | { readonly type: "plan"; readonly plan: PlanSummary }
  | { readonly type: "step"; readonly report: StepReport }
  | { readonly type: "val"; readonly step: number; readonly loss: number }
  | { readonly type: "sample"; readonly step: number; readonly prompt: string; readonly text: string }
  | { readonly type: "weights"; readonly bytes: Uint8Array; readonly fileName: string }
  | { readonly type: "shader"; readonly kernel: number; readonly wgsl: string | null; readonly note: string }
  | { readonly type: "error"; readonly message: string };
