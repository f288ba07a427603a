import { expect } from "vitest";

/** Every opened tag closed, in order (self-closing `<x/>` tags aside): what a browser needs to draw an SVG as written. */
export function expectBalancedTags(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^<>]*?(\/?)>/g)) {
    if (m[3]) continue;
    if (m[1]) expect(stack.pop()).toBe(m[2]);
    else stack.push(m[2]);
  }
  expect(stack).toEqual([]);
}

/** Minimal well-formedness: one <svg> root, tags balanced and properly nested, no raw `&` or `<` in text. */
export function expectWellFormed(svg: string): void {
  expect(svg.startsWith("<svg ")).toBe(true);
  expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  expectBalancedTags(svg);
  const outsideTags = svg.replace(/<[^<>]*>/g, "");
  expect(outsideTags).not.toMatch(/[<>]|&(?!amp;|lt;|gt;|quot;|#39;)/);
  for (const attr of svg.matchAll(/="([^"]*)"/g)) expect(attr[1]).not.toMatch(/[<&](?!amp;|lt;|gt;|quot;|#39;)/);
  expect(svg).not.toMatch(/NaN|Infinity/);
}
