"""ECR repository names for a deployment's images: valid, stable, and distinct for distinct images.

ECR takes lowercase letters and digits separated by `.`, `_` or `-`, in `/`-separated parts, 2-256
characters (the CreateRepository API's RepositoryName pattern; older releases of that pattern
allowed a single separator only, which is what is produced here, valid under both). Lambda takes
function names ECR does not (`fn__x-`, `_lead`, `a--b`, `Upper_Case-2`), so:

- a name ECR takes is used as it is (existing repositories keep their names);
- any other is lowercased, each run of separators becomes its first one, separators at either end
  are dropped, and `-` and the first 8 hex digits of the SHA-256 of the original name follow;
- names that would still be the same (`f` built for two architectures is `f-arm64` and
  `f-x86-64`, which a function called `f-arm64` would be too) get that hash as well, each of its
  own image, so that no two images of a deployment share a repository.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

# One part of a repository name, with single separators (valid in every release of ECR's pattern).
PART = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
HASH_LENGTH = 8
MIN_LENGTH, MAX_LENGTH = 2, 256  # a whole repository name, prefix included


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def cleaned(name: str) -> str:
    """Lowercase, any other character a `-`, each run of separators its first, none at either end."""
    text = re.sub(r"[^a-z0-9._-]", "-", name.lower())
    return re.sub(r"[._-]+", lambda run: run.group()[0], text).strip("._-")


def hashed(name: str, key: str) -> str:
    """`name` cleaned, with the hash of `key` (what tells this image from every other) after it."""
    base = cleaned(name)
    return f"{base}-{digest(key)}" if base else digest(key)


def part(name: str) -> str:
    """One valid part of a repository name: `name` itself when ECR takes it, else cleaned and hashed."""
    return name if PART.fullmatch(name) else hashed(name, name)


def image_key(function: str, architecture: str | None) -> str:
    """What tells an image apart: its function's name, and its architecture when it has two images.

    `/` is in no Lambda function name, so keys of different images never coincide.
    """
    return function if architecture is None else f"{function}/{architecture}"


def repository_names(prefix: str, images: Iterable[tuple[str, str | None]]) -> dict[tuple[str, str | None], str]:
    """`PREFIX/NAME` for each image, given as (function name, architecture or None when it has one image).

    `prefix` must be a valid part already (see `part`). A function's image with an architecture is
    named after the function with `-x86-64` or `-arm64` after it.
    """
    texts = {
        (function, architecture): function if architecture is None else f"{function}-{architecture.replace('_', '-')}"
        for function, architecture in images
    }
    names = {image: text if PART.fullmatch(text) else hashed(text, image_key(*image)) for image, text in texts.items()}
    plain = {image for image, text in texts.items() if names[image] == text}
    while True:
        counts = Counter(names.values())
        clashing = [image for image in plain if counts[names[image]] > 1]
        if not clashing:
            break
        for image in clashing:
            names[image] = hashed(texts[image], image_key(*image))
            plain.discard(image)
    if len(set(names.values())) < len(names):  # two hashes alike: 1 in 4 billion, refused rather than shared
        clash = sorted(name for name, count in Counter(names.values()).items() if count > 1)
        raise ValueError(f"ECR repository names clash: {', '.join(clash)}")
    return {image: f"{prefix}/{name}" for image, name in names.items()}
