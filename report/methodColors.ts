/**
 * One colour per method, the same in every chart and report: built-in methods take a fixed slot in the
 * order methods/index.ts lists them; any other name (a user's method file, a bench series) hashes to a
 * slot, so it too keeps its colour from chart to chart.
 */
import { METHODS } from "../methods/index.ts";

/** Tableau 20's strong colours first, then its light ones: distinct for 14 methods, colorblind-tolerant. */
export const PALETTE: readonly string[] = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#79706e",
  "#2f5f8a",
  "#b6992d",
  "#499894",
  "#d37295",
  "#86bcb6",
  "#8cd17d",
  "#a0cbe8",
  "#ffbe7d",
  "#d4a6c8",
  "#bab0ac",
];

/** FNV-1a, enough to spread unknown names over the palette. */
const hash = (s: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
};

/** The colour of a method (or any series name): stable across charts, runs and reports. */
export function methodColor(name: string): string {
  const i = METHODS.indexOf(name);
  return PALETTE[i >= 0 ? i : METHODS.length + (hash(name) % (PALETTE.length - METHODS.length))];
}
