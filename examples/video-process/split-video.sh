#!/bin/sh
# Split the uploaded video into frames (binary PPM images) at $FRAMES_PER_SECOND.
set -eu
name=$(basename "$INPUT_FILE_PATH")
ffmpeg -hide_banner -loglevel error -i "$INPUT_FILE_PATH" \
  -vf "fps=${FRAMES_PER_SECOND:-1}" "$TMP_OUTPUT_DIR/${name%.*}-%04d.ppm"
echo "split $name into $(ls "$TMP_OUTPUT_DIR" | wc -l) frames"
