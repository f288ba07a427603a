/**
 * The samples of a run by step, newest first: a bounded list (the oldest drop off), each entry its step,
 * the prompt in bold and what the model wrote after it.
 */

/** How many samples the page keeps. */
export const SAMPLE_HISTORY = 20;

/** The sample list in `host` (an <ol>), with `empty` shown while it has none. */
export class SampleHistory {
  constructor(
    private readonly host: HTMLElement,
    private readonly empty: HTMLElement,
  ) {}

  /** Forgets every sample (a new run). */
  clear(): void {
    this.host.replaceChildren();
    this.empty.hidden = false;
  }

  /** Puts a sample first, dropping the oldest beyond SAMPLE_HISTORY. */
  add(step: number, prompt: string, text: string): void {
    const li = document.createElement("li");
    li.dataset.step = String(step);
    const head = Object.assign(document.createElement("span"), { className: "k", textContent: `after step ${step}` });
    const body = document.createElement("pre");
    body.append(Object.assign(document.createElement("b"), { textContent: prompt }), text);
    li.append(head, body);
    this.host.prepend(li);
    while (this.host.children.length > SAMPLE_HISTORY) this.host.lastElementChild!.remove();
    this.empty.hidden = true;
  }
}
