#!/bin/sh
# Split the uploaded video into frames (binary PPM images) at $FRAMES_PER_SECOND.
# The video is YUV4MPEG2 (.y4m, 4:2:0), read with python3's standard library alone: convert
# other formats first, e.g. `ffmpeg -i clip.mp4 -pix_fmt yuv420p clip.y4m`.
set -eu
name=$(basename "$INPUT_FILE_PATH")
python3 - "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/${name%.*}" "${FRAMES_PER_SECOND:-1}" <<'PY'
import sys
from fractions import Fraction

source, stem, per_second = sys.argv[1], sys.argv[2], Fraction(sys.argv[3])
video = open(source, "rb")
header = video.readline().split()
if not header or header[0] != b"YUV4MPEG2":
    sys.exit(f"{source} is not a YUV4MPEG2 video (convert it: ffmpeg -i IN -pix_fmt yuv420p OUT.y4m)")
fields = {f[:1]: f[1:].decode() for f in header[1:]}
if not fields.get(b"C", "420").startswith("420"):
    sys.exit(f"colour space C{fields[b'C']} is not supported, only 4:2:0")
width, height = int(fields[b"W"]), int(fields[b"H"])
rate = Fraction(*map(int, fields.get(b"F", "25:1").split(":")))
luma, chroma = width * height, (width // 2) * (height // 2)

def clamp(value):
    return 0 if value < 0 else 255 if value > 255 else int(value)

def ppm(data):
    """BT.601 full-range YUV 4:2:0 to RGB, as a binary PPM image."""
    y, u, v = data[:luma], data[luma:luma + chroma], data[luma + chroma:]
    rgb = bytearray()
    for row in range(height):
        for col in range(width):
            c = (row // 2) * (width // 2) + col // 2
            yy, cb, cr = y[row * width + col], u[c] - 128, v[c] - 128
            rgb += bytes((clamp(yy + 1.402 * cr), clamp(yy - 0.344136 * cb - 0.714136 * cr), clamp(yy + 1.772 * cb)))
    return b"P6\n%d %d\n255\n" % (width, height) + bytes(rgb)

index, written, last_slot = 0, 0, None
while video.readline().startswith(b"FRAME"):
    data = video.read(luma + 2 * chroma)
    if len(data) < luma + 2 * chroma:
        break
    slot = int(index / rate * per_second)  # the output frame this input frame falls into
    if slot != last_slot:
        written += 1
        open(f"{stem}-{written:04d}.ppm", "wb").write(ppm(data))
        last_slot = slot
    index += 1
print(f"{index} frames at {float(rate):g} fps: kept {written} at {float(per_second):g} per second")
PY
echo "split $name into $(ls "$TMP_OUTPUT_DIR" | wc -l) frames"
