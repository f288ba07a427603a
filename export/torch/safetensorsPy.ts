/**
 * Reading and writing safetensors in the generated Python, with nothing but torch and the standard
 * library (the `safetensors` package need not be installed): the format train/safetensors.ts reads and
 * writes (u64 little-endian header size, JSON header padded with spaces to 8 bytes, little-endian data).
 */
export const SAFETENSORS_PY = `_ST_DTYPES = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "I64": torch.int64}


def load_safetensors(path):
    """The tensors of a safetensors file, by name (F32, F64, I32 and I64 entries)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    body = bytearray(data[8 + n :])
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        flat = torch.frombuffer(body[begin:end], dtype=_ST_DTYPES[entry["dtype"]]) if end > begin else torch.zeros(0)
        out[name] = flat.clone().reshape(entry["shape"])
    return out


def save_safetensors(path, tensors, metadata=None):
    """Writes float32 tensors by name (sorted), with optional string metadata."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in sorted(metadata.items())}
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu", torch.float32).contiguous()
        raw = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)
`;
