import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import fs from "node:fs";
import path from "node:path";
import { resolveConfig } from "../../models/config.ts";
import { makeModel, METHODS } from "../../methods/index.ts";
import { exportWeights, importWeights } from "../../methods/exportWeights.ts";
import { mergeDense } from "../../methods/mergeDense.ts";
import { decodeSafetensors } from "../../train/safetensors.ts";
import { Rng } from "../../util/rng.ts";
import { unwrap } from "../../testing/unwrap.ts";
import { tempDir } from "../train/tempDir.ts";
import { lossOf, tokens } from "../models/referenceLoss.ts";

const cfg = unwrap(
  resolveConfig("tiny", { d: 16, heads: 2, layers: 2, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }),
);
const modelOf = (method: string) => unwrap(makeModel(method, cfg));
/** Init params with every zero (ReLoRA's B) made small and nonzero, so each factor shows in the function. */
const paramsOf = (method: string) =>
  modelOf(method)
    .init(5)
    .map((p, i) => p.map((v, k) => (v === 0 ? 0.01 * Math.sin(7 * i + k) : v)));
const NOT_DENSE: Record<string, RegExp> = {
  cola: /^cola has no dense LLaMA form: blocks\.0\.q: it applies silu to a value that depends on its input$/,
  colaM: /^colaM has no dense LLaMA form: blocks\.0\.q: it applies silu/,
  crnet: /^crnet has no dense LLaMA form: its decoder is its own/,
};

describe("export --merge: a dense LlamaForCausalLM where the method's function is one", () => {
  it.each(METHODS)("%s merges to the same loss (float64), or refuses in one line", async (method) => {
    const model = modelOf(method);
    const params = paramsOf(method);
    const merged = await mergeDense(model, params);
    if (NOT_DENSE[method]) {
      expect(E.isLeft(merged) && merged.left).toMatch(NOT_DENSE[method]!);
      expect(E.isLeft(merged) && merged.left).not.toContain("\n");
      return;
    }
    if (E.isLeft(merged)) throw new Error(merged.left);
    expect(merged.right.model.method).toBe("full");
    const rng = Rng.fromSeed(3);
    const [x, y] = [tokens(cfg, rng), tokens(cfg, rng)];
    const f64 = (ps: readonly Float32Array[]) => ps.map((p) => Float64Array.from(p));
    const [a, b] = [
      await lossOf(model, f64(params), x, y),
      await lossOf(merged.right.model, f64(merged.right.params), x, y),
    ];
    // the merged weights are rounded to float32 once: the losses agree to that rounding
    expect(Math.abs(a - b)).toBeLessThan(1e-6 * Math.abs(a));
    // and the merged export is a plain LLaMA
    const dir = path.join(tempDir(), `merged-${method}`);
    unwrap(exportWeights(dir, merged.right.model, merged.right.params));
    const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(config).toMatchObject({ architectures: ["LlamaForCausalLM"], model_type: "llama" });
  });
});

describe("export names and config.json per method", () => {
  const tensorsOf = (method: string) => {
    const dir = path.join(tempDir(), `names-${method}`);
    unwrap(exportWeights(dir, modelOf(method), paramsOf(method)));
    const st = unwrap(decodeSafetensors(fs.readFileSync(path.join(dir, "model.safetensors"))));
    return { t: st.tensors, config: JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")), dir };
  };

  it("relora and dynamic: PEFT's base_layer / lora_A [r, in] / lora_B [out, r], and the adapter config", () => {
    for (const method of ["relora", "dynamic"]) {
      const { t, config } = tensorsOf(method);
      expect(t["model.layers.0.self_attn.q_proj.base_layer.weight"]!.shape).toEqual([16, 16]);
      expect(t["model.layers.0.mlp.up_proj.lora_A.weight"]!.shape).toEqual([4, 16]);
      expect(t["model.layers.0.mlp.up_proj.lora_B.weight"]!.shape).toEqual([24, 4]);
      expect(Object.keys(t).some((k) => /cola_/.test(k))).toBe(false);
      expect(config).toMatchObject({
        architectures: ["LlamaForCausalLM"],
        lora: { peft_type: "LORA", r: 4, lora_alpha: 32 },
      });
    }
  });

  it("fira is a dense LlamaForCausalLM with no CoLA fields", () => {
    const { t, config } = tensorsOf("fira");
    expect(config).toMatchObject({ architectures: ["LlamaForCausalLM"], model_type: "llama" });
    expect(config.only_lr_act).toBeUndefined();
    expect(t["model.layers.1.mlp.down_proj.weight"]!.shape).toEqual([16, 24]);
  });

  it("sst's U, Σ, V, crnet's factors and β, the structured FFNs' blocks and guide", () => {
    expect(Object.keys(tensorsOf("sst").t)).toEqual(
      expect.arrayContaining([
        "model.layers.0.self_attn.q_proj.sst_u",
        "model.layers.0.self_attn.q_proj.sst_sigma",
        "model.layers.0.self_attn.q_proj.sst_v",
      ]),
    );
    const crnet = tensorsOf("crnet");
    expect(crnet.config).toMatchObject({ architectures: ["CRNetForCausalLM"], model_type: "crnet" });
    expect(Object.keys(crnet.t)).toEqual(
      expect.arrayContaining([
        "model.layers.0.self_attn.q_proj.weight",
        "model.layers.1.self_attn.q_proj.crnet_a",
        "model.layers.1.self_attn.q_proj.crnet_b",
        "model.layers.1.self_attn.q_proj.crnet_beta",
      ]),
    );
    expect(Object.keys(tensorsOf("blockShuffleFfnGuided").t)).toEqual(
      expect.arrayContaining([
        "model.layers.0.mlp.up_proj.block_shuffle_1",
        "model.layers.0.mlp.up_proj.guide.weight",
        "model.guide_alpha",
      ]),
    );
    expect(tensorsOf("blockDenseFfn").config).toMatchObject({
      model_type: "llama_structured_ffn",
      ffn_structure: "blockDense",
    });
  });

  it.each(METHODS)("%s: every exported name is unique and imports back exactly", async (method) => {
    const { dir } = tensorsOf(method);
    const back = unwrap(await importWeights(dir));
    const params = paramsOf(method);
    back.params.forEach((p, i) => expect(Array.from(p)).toEqual(Array.from(params[i]!)));
  });
});

describe("import checks the Hugging Face fields and every tensor", () => {
  it("refuses config.json whose Hugging Face fields disagree with its rankfuse section, naming them", async () => {
    const dir = path.join(tempDir(), "disagree");
    unwrap(exportWeights(dir, modelOf("full"), paramsOf("full")));
    const file = path.join(dir, "config.json");
    const config = JSON.parse(fs.readFileSync(file, "utf8"));
    fs.writeFileSync(file, JSON.stringify({ ...config, rope_theta: 500000, num_attention_heads: 4 }));
    fs.rmSync(path.join(dir, "checksums.json")); // edited by hand: read unverified, so its fields are checked
    const r = await importWeights(dir);
    expect(E.isLeft(r) && r.left.message).toMatch(
      /config\.json: num_attention_heads is 4 but the rankfuse section says 2; rope_theta is 500000 but the rankfuse section says 10000/,
    );
  });

  it("refuses an export holding a tensor the model does not use, naming it", async () => {
    const dir = path.join(tempDir(), "extra");
    const model = modelOf("full");
    const params = paramsOf("full");
    unwrap(exportWeights(dir, model, params));
    const st = unwrap(decodeSafetensors(fs.readFileSync(path.join(dir, "model.safetensors"))));
    const { encodeSafetensors } = await import("../../train/safetensors.ts");
    const extra = { ...st.tensors, "model.layers.0.self_attn.rotary_emb.inv_freq": st.tensors["model.norm.weight"]! };
    fs.writeFileSync(
      path.join(dir, "model.safetensors"),
      encodeSafetensors(
        Object.fromEntries(
          Object.entries(extra).map(([k, v]) => [
            k,
            { dtype: "F32", shape: [...v.shape], data: v.data as Float32Array },
          ]),
        ),
      ),
    );
    fs.rmSync(path.join(dir, "checksums.json")); // rewritten by hand: read unverified, so its tensors are checked
    const r = await importWeights(dir);
    expect(E.isLeft(r) && r.left.message).toMatch(
      /has 1 tensor a full model does not use: model\.layers\.0\.self_attn\.rotary_emb\.inv_freq$/,
    );
  });
});
