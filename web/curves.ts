import { lineChart, type Point } from "../report/svg.ts";

/** The chart's title, also its accessible name. */
const TITLE = "Loss (nats per byte)";

/**
 * The live loss and validation curves: report/svg.ts's chart, redrawn at most once per frame. It is
 * drawn at the width of its box (redrawn when that changes), so its 12 px text stays 12 px on a phone
 * and on a wide screen; the SVG scales with the box between redraws (viewBox, width 100%).
 */
export class Curves {
  readonly train: Point[] = [];
  readonly val: Point[] = [];
  private pending = false;
  private drawnWidth = 0;

  constructor(private readonly host: HTMLElement) {
    this.draw();
    new ResizeObserver(() => {
      if (Math.abs(this.width() - this.drawnWidth) >= 8) this.schedule();
    }).observe(host);
  }

  /** The width to draw at: the box's, within what the chart can lay out. */
  private width(): number {
    return Math.round(Math.min(1400, Math.max(280, this.host.clientWidth || 720)));
  }

  /** Forgets both curves (a new run). */
  clear(): void {
    this.train.length = 0;
    this.val.length = 0;
    this.schedule();
  }

  /** Adds a point to the training or validation curve. */
  add(kind: "train" | "val", step: number, loss: number): void {
    (kind === "train" ? this.train : this.val).push([step, loss]);
    this.schedule();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  private draw(): void {
    const width = this.width();
    this.drawnWidth = width;
    this.host.innerHTML = lineChart({
      title: TITLE,
      xLabel: "step",
      yLabel: "loss",
      width,
      height: Math.round(Math.min(320, Math.max(220, width * 0.42))),
      series: [
        { name: "train", points: this.train },
        { name: "validation", points: this.val },
      ],
    });
    const svg = this.host.querySelector("svg")!;
    svg.setAttribute("width", "100%");
    svg.removeAttribute("height");
    svg.setAttribute("role", "img");
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = `${TITLE} by step: ${this.describe()}`;
    svg.prepend(title);
    // the numbers behind the picture, for tests and for anyone inspecting the page
    this.host.dataset.train = JSON.stringify(this.train);
    this.host.dataset.val = JSON.stringify(this.val);
  }

  /** The curves in words, for the chart's accessible name. */
  private describe(): string {
    const last = (ps: Point[], what: string) =>
      ps.length ? `${what} ${ps[ps.length - 1]![1].toFixed(3)} at step ${ps[ps.length - 1]![0]}` : undefined;
    const parts = [last(this.train, "training loss"), last(this.val, "validation loss")].filter(Boolean);
    return parts.length ? parts.join(", ") : "no steps yet";
  }
}
