import { lineChart, type Point } from "../report/svg.ts";

/** The live loss and validation curves: report/svg.ts's chart, redrawn at most once per frame. */
export class Curves {
  readonly train: Point[] = [];
  readonly val: Point[] = [];
  private pending = false;

  constructor(private readonly host: HTMLElement) {
    this.draw();
  }

  clear(): void {
    this.train.length = 0;
    this.val.length = 0;
    this.schedule();
  }

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
    this.host.innerHTML = lineChart({
      title: "Loss (nats per byte)",
      xLabel: "step",
      yLabel: "loss",
      width: 1040,
      height: 320,
      series: [
        { name: "train", points: this.train },
        { name: "validation", points: this.val },
      ],
    });
    // the numbers behind the picture, for tests and for anyone inspecting the page
    this.host.dataset.train = JSON.stringify(this.train);
    this.host.dataset.val = JSON.stringify(this.val);
  }
}
