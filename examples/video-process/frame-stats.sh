#!/bin/sh
# Measure one frame: its size and mean brightness, written as JSON.
set -eu
name=$(basename "$INPUT_FILE_PATH")
python3 - "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/${name%.*}.json" <<'PY'
import json, sys

def tokens(data):
    """Header fields of a binary PPM (P6), skipping comments."""
    fields, i = [], 0
    while len(fields) < 4 and i < len(data):
        while data[i:i + 1].isspace():
            i += 1
        if data[i:i + 1] == b"#":
            end = data.find(b"\n", i)
            i = len(data) if end < 0 else end
            continue
        start = i
        while i < len(data) and not data[i:i + 1].isspace():
            i += 1
        fields.append(data[start:i])
    return fields, i + 1

data = open(sys.argv[1], "rb").read()
fields, offset = tokens(data)
if data[:2] != b"P6" or len(fields) < 4:
    sys.exit(f"not a binary PPM image: {sys.argv[1]}")
_, width, height, _ = fields
pixels = data[offset:]
json.dump({"frame": sys.argv[1].rsplit("/", 1)[-1], "width": int(width), "height": int(height),
           "mean_brightness": round(sum(pixels) / max(len(pixels), 1), 2)}, open(sys.argv[2], "w"))
PY
