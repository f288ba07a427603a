/**
 * The plan panel's list of kernels: an ARIA listbox whose rows wrap (a native <select> cuts long rows
 * off on a narrow screen). Click or the arrow keys select a row; the selected row carries
 * aria-selected and a highlight, and the owner is told its index.
 */

/** One row: its text and whether it is a fused kernel. */
export interface KernelRow {
  readonly label: string;
  readonly fused: boolean;
}

/** A listbox of kernel rows in `host` (a <ul>), calling `onSelect` with a row's index when it is chosen. */
export class KernelList {
  private selected = -1;

  constructor(
    private readonly host: HTMLElement,
    private readonly onSelect: (index: number) => void,
  ) {
    host.setAttribute("role", "listbox");
    host.tabIndex = 0;
    host.addEventListener("click", (ev) => {
      const row = (ev.target as HTMLElement).closest<HTMLElement>("[role=option]");
      if (row) this.select(Number(row.dataset.index));
    });
    host.addEventListener("keydown", (ev) => {
      const n = this.host.children.length;
      if (n === 0) return;
      const to: Record<string, number> = {
        ArrowDown: Math.min(n - 1, this.selected + 1),
        ArrowUp: Math.max(0, this.selected - 1),
        Home: 0,
        End: n - 1,
      };
      if (!(ev.key in to)) return;
      ev.preventDefault();
      this.select(to[ev.key]!);
    });
  }

  /** Replaces the rows; nothing is selected. */
  set(rows: readonly KernelRow[]): void {
    this.selected = -1;
    this.host.removeAttribute("aria-activedescendant");
    this.host.replaceChildren(
      ...rows.map((r, i) => {
        const li = document.createElement("li");
        li.id = `kernel-${i}`;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.index = String(i);
        if (r.fused) li.className = "fused";
        li.textContent = r.label;
        return li;
      }),
    );
  }

  /** Selects row `index` (scrolled into view), unless it is already selected. */
  select(index: number): void {
    const row = this.host.children[index] as HTMLElement | undefined;
    if (!row || index === this.selected) return;
    this.host.children[this.selected]?.setAttribute("aria-selected", "false");
    row.setAttribute("aria-selected", "true");
    this.host.setAttribute("aria-activedescendant", row.id);
    // scroll the list, not the page, to the row (the list is position: relative, so offsetTop is within it)
    const list = this.host;
    if (row.offsetTop < list.scrollTop) list.scrollTop = row.offsetTop;
    else if (row.offsetTop + row.offsetHeight > list.scrollTop + list.clientHeight)
      list.scrollTop = row.offsetTop + row.offsetHeight - list.clientHeight;
    this.selected = index;
    this.onSelect(index);
  }
}
