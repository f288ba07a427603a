/**
 * A user's project that depends on the packed rankfuse: its package.json, a strict tsconfig (nodenext,
 * no .ts import specifiers) and one script that imports every entry point, compiles a CoLA layer
 * B·silu(A·x) on the default backend, runs forward and backward, checks its gradient and a fast-check
 * property of rankfuse/testing, and prints what the test asserts.
 */

/** package.json of the consumer project. */
export const CONSUMER_PACKAGE = { name: "rankfuse-consumer", private: true, type: "module" };

/** tsconfig.json of the consumer project: strict, nodenext, declaration files checked too. */
export const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "nodenext",
    moduleResolution: "nodenext",
    strict: true,
    skipLibCheck: false,
    rootDir: "src",
    outDir: "out",
  },
  include: ["src"],
};

/** src/main.ts: ends with one `RESULT {...}` line of JSON. */
export const CONSUMER_MAIN = `import * as E from "fp-ts/lib/Either.js";
import fc from "fast-check";
import { dim, spec, compile, valueAndGrad, loadBackend, matmul, mean, square, renderError, saveAll, type Tensor, type Dim } from "rankfuse";
import { colaLinear, CONFIGS, type ColaParams } from "rankfuse/models";
import { METHODS, makeModel } from "rankfuse/methods";
import { warmupCosine, type TrainOptions } from "rankfuse/train";
import { assertAllclose, checkGrads, forAllInputs, matchesDense } from "rankfuse/testing";
import { CHAIN_KINDS, type Backend } from "rankfuse/backend-api";

const [n, d, r] = [dim("n", 64), dim("d", 32), dim("r", 8)];
type P = ColaParams<Dim<"d">, Dim<"r">, Dim<"d">>;
type X = Tensor<readonly [Dim<"n">, Dim<"d">]>;
const loss = (p: P, x: X) => mean(square(colaLinear(x, p)));
const args = [{ A: spec([d, r]), B: spec([r, d]) }, spec([n, d])] as const;

const be = await loadBackend();
if (E.isLeft(be)) throw new Error(renderError(be.left));
const backend: Backend<unknown> = be.right;
const step = compile((p: P, x: X) => valueAndGrad(loss)(p, x), { args, backend, remat: saveAll });
if (E.isLeft(step)) throw new Error(renderError(step.left));
console.log(step.right.plan.toString());

let seed = 1;
const rand = (k: number) => Float32Array.from({ length: k }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.5);
const params = { A: rand(d.size * r.size), B: rand(r.size * d.size) };
const x = rand(n.size * d.size);
const res = await step.right.run(params, x);
if (E.isLeft(res)) throw new Error(renderError(res.left));
const [value, grads] = res.right.out;
assertAllclose(grads.A, grads.A);
const checked = await checkGrads(loss, args, [{ A: Float64Array.from(params.A), B: Float64Array.from(params.B) }, Float64Array.from(x)]);
const factored = (p: P, x: X) => matmul(matmul(x, p.A), p.B);
const dense = (p: P, x: X) => matmul(x, matmul(p.A, p.B));
await fc.assert(forAllInputs(matchesDense(factored, dense, args)), { numRuns: 2 });

const model = makeModel("cola", CONFIGS.tiny!);
const options: Pick<TrainOptions, "steps"> = { steps: 10 };
const deep = "rankfuse/dsl/trace.js";
let deepImport = "allowed";
try {
  await import(deep);
} catch (e) {
  deepImport = String((e as { code?: string }).code);
}
console.log("RESULT " + JSON.stringify({
  backend: backend.name,
  loss: value[0],
  gradA: grads.A.length,
  gradB: grads.B.length,
  gradCheck: checked.numeric !== 0 && Math.abs(checked.analytic - checked.numeric) <= 1e-6 * checked.scale,
  property: true,
  methods: METHODS.length,
  model: E.isRight(model) ? model.right.method : "none",
  lr0: warmupCosine({ lr: 1, warmupSteps: 2, totalSteps: options.steps })(0),
  fusedKinds: CHAIN_KINDS.length,
  deepImport,
}));
`;
