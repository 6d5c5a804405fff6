#!/bin/sh
# Writes a greeting for the uploaded file into the output folder.
set -eu
name=$(basename "$INPUT_FILE_PATH")
{
  echo "${GREETING:-Hello}, ${name}!"
  echo "It has $(wc -l < "$INPUT_FILE_PATH") line(s)."
} > "$TMP_OUTPUT_DIR/${name%.*}.greeting.txt"
