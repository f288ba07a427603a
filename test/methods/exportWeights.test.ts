import { describe, expect, it } from "vitest";
import * as E from "fp-ts/lib/Either.js";
import fs from "node:fs";
import path from "node:path";
import { resolveConfig } from "../../models/config.ts";
import { makeModel, METHODS } from "../../methods/index.ts";
import { exportName, exportWeights, importWeights } from "../../methods/exportWeights.ts";
import { decodeSafetensors } from "../../train/safetensors.ts";
import { tempDir } from "../train/tempDir.ts";
import { COLA_EXPORT } from "../../methods/cola/index.ts";

const cfg = E.getOrElseW(() => {
  throw new Error("config");
})(resolveConfig("tiny", { d: 16, heads: 2, layers: 2, dFF: 24, rank: 4, vocab: 32, seq: 8, batch: 2 }));

describe("export to safetensors + config.json", () => {
  it.each(METHODS)("%s: export then import is exact", async (method) => {
    const model = E.getOrElseW(() => {
      throw new Error("model");
    })(makeModel(method, cfg));
    const params = model.init(3);
    const dir = path.join(tempDir(), "export");
    const w = exportWeights(dir, model, params);
    expect(E.isRight(w)).toBe(true);
    const back = await importWeights(dir);
    if (E.isLeft(back)) throw new Error(back.left.message);
    expect(back.right.model.method).toBe(method);
    expect(back.right.model.config).toEqual(cfg);
    back.right.params.forEach((p, i) =>
      expect(Buffer.from(p.buffer, p.byteOffset, p.byteLength).equals(Buffer.from(params[i]!.buffer))).toBe(true),
    );
  });

  it("uses Hugging Face LLaMA names, PyTorch [out, in] layout for dense weights, and CoLA's cola_a [in, r]", () => {
    const model = E.getOrElseW(() => {
      throw new Error("model");
    })(makeModel("full", cfg));
    const params = model.init(1);
    const dir = path.join(tempDir(), "full");
    exportWeights(dir, model, params);
    const st = decodeSafetensors(fs.readFileSync(path.join(dir, "model.safetensors")));
    if (E.isLeft(st)) throw new Error(st.left.message);
    const t = st.right.tensors;
    expect(t["model.embed_tokens.weight"]!.shape).toEqual([32, 16]);
    expect(t["lm_head.weight"]!.shape).toEqual([32, 16]);
    expect(t["model.layers.1.mlp.gate_proj.weight"]!.shape).toEqual([24, 16]);
    // q_proj.weight[o][i] is rankfuse's q[i][o]
    const qi = model.layout.names.indexOf("blocks.0.q");
    expect(t["model.layers.0.self_attn.q_proj.weight"]!.data[1 * 16 + 2]).toBe(params[qi]![2 * 16 + 1]);
    expect(exportName("blocks.3.down.A", COLA_EXPORT)).toEqual(["model.layers.3.mlp.down_proj.cola_a", false]);
    const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(config).toMatchObject({
      architectures: ["LlamaForCausalLM"],
      hidden_size: 16,
      intermediate_size: 24,
      num_hidden_layers: 2,
      vocab_size: 32,
      tie_word_embeddings: false,
    });
  });

  it("keeps other params' rankfuse names, under their projection or under rankfuse.", () => {
    expect(exportName("blocks.1.q.beta")).toEqual(["model.layers.1.self_attn.q_proj.beta", false]);
    expect(exportName("blocks.0.up.shuffle1")).toEqual(["model.layers.0.mlp.up_proj.shuffle1", false]);
    expect(exportName("guideAlpha")).toEqual(["rankfuse.guideAlpha", false]);
  });

  it("refuses an export with a missing tensor or a wrong shape, naming it", async () => {
    const model = E.getOrElseW(() => {
      throw new Error("model");
    })(makeModel("cola", cfg));
    const dir = path.join(tempDir(), "bad");
    exportWeights(dir, model, model.init(0));
    const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    config.rankfuse.config.layers = 3;
    config.num_hidden_layers = 3;
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
    fs.rmSync(path.join(dir, "checksums.json")); // edited by hand: read unverified, so its tensors are checked
    const r = await importWeights(dir);
    expect(E.isLeft(r) && r.left.message).toContain("has no tensor model.layers.2.");
    const none = await importWeights(path.join(tempDir(), "nothing-here"));
    expect(E.isLeft(none) && none.left.message).toContain("cannot read an export");
  });
});
