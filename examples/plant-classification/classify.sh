#!/bin/sh
# Classify the uploaded image with the model shipped in the container image and write the
# top predictions as JSON next to a copy of the image name.
set -eu
name=$(basename "$INPUT_FILE_PATH")
deepaas-cli predict --files "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/${name%.*}.predictions.json"
echo "classified $name"
