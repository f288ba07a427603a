/**
 * How the training loop's messages name the options they suggest changing. A library caller reads
 * `train(...)`'s option names ("set resume: true"); the command line passes its flags ("pass --resume"),
 * so each face's users are told what to type in their own terms.
 */
export interface OptionWording {
  /** How to ask for resuming the checkpoint in the output folder. */
  readonly resume: string;
  /** The output folder's option. */
  readonly outDir: string;
  /** The learning-rate option. */
  readonly lr: string;
  /** The gradient-clipping option. */
  readonly clip: string;
  /** The option that skips non-finite batches. */
  readonly skipNonFinite: string;
}

/** The library's wording: `train(...)`'s own option names. */
export const API_WORDING: OptionWording = {
  resume: "set resume: true",
  outDir: "outDir",
  lr: "lr",
  clip: "clip",
  skipNonFinite: "skipNonFinite",
};
