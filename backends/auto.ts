import * as E from "fp-ts/lib/Either.js";
import type { Backend, BackendModule } from "../ir/backend.ts";

/** The modules auto may pick, first choice first: highest priority first, priority 0 left out, ties in list order. */
export const autoOrder = <M extends BackendModule>(modules: readonly M[]): M[] =>
  modules.filter((m) => m.priority > 0).sort((a, b) => b.priority - a.priority);

/** What auto picked (null when nothing loads), and why it passed over each module before it. */
export interface AutoPick {
  readonly backend: Backend<any> | null;
  readonly passedOver: string[];
}

/**
 * The first of `modules` (in auto order) that loads. A module's precheck can pass it over without
 * loading it; its reason is prefixed with the module's name, as load errors already name theirs.
 */
export async function pickFirst(modules: readonly BackendModule[]): Promise<AutoPick> {
  const passedOver: string[] = [];
  for (const m of autoOrder(modules)) {
    const skip = await m.autoPrecheck?.();
    if (skip) {
      passedOver.push(`${m.name}: ${skip}`);
      continue;
    }
    const be = await m.load();
    if (E.isRight(be)) return { backend: be.right, passedOver };
    passedOver.push(be.left.message);
  }
  return { backend: null, passedOver };
}
