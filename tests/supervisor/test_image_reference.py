"""Image references read as Docker reads them; where each is fetched from; what is refused."""

from __future__ import annotations

import pytest
from faas_supervisor.image import InvalidReference, parse_reference
from faas_supervisor.image.reference import endpoint

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("alpine", "registry-1.docker.io", "library/alpine", "latest", None),
        ("alpine:3.20", "registry-1.docker.io", "library/alpine", "3.20", None),
        ("grycap/cowsay", "registry-1.docker.io", "grycap/cowsay", "latest", None),
        ("docker.io/alpine", "registry-1.docker.io", "library/alpine", "latest", None),
        ("index.docker.io/grycap/cowsay:v1", "registry-1.docker.io", "grycap/cowsay", "v1", None),
        ("ghcr.io/o/x:tag", "ghcr.io", "o/x", "tag", None),
        ("public.ecr.aws/a/b", "public.ecr.aws", "a/b", "latest", None),
        (
            f"123456789012.dkr.ecr.us-east-1.amazonaws.com/repo@{DIGEST}",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "repo",
            None,
            DIGEST,
        ),
        ("127.0.0.1:5000/x:y", "127.0.0.1:5000", "x", "y", None),
        ("localhost:5000/x", "localhost:5000", "x", "latest", None),
        ("localhost/x", "localhost", "x", "latest", None),
        ("[::1]:5000/a/b", "[::1]:5000", "a/b", "latest", None),
        (f"name:tag@{DIGEST}", "registry-1.docker.io", "library/name", "tag", DIGEST),
        ("a.b-c/e---f/g__h.i:v_1.2-3", "a.b-c", "e---f/g__h.i", "v_1.2-3", None),
        ("Registry/x", "Registry", "x", "latest", None),  # uppercase first component: a registry, as in Docker
    ],
)
def test_references_are_read_as_docker_reads_them(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    reference = parse_reference(text)
    assert (reference.registry, reference.repository, reference.tag, reference.digest) == (
        registry,
        repository,
        tag,
        digest,
    )
    assert reference.version == (digest or tag)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        (" alpine", "spaces"),
        ("Alpine", "lowercase"),
        ("ghcr.io/O/x", "lowercase"),
        ("alpine:", "invalid tag"),
        ("alpine:-x", "invalid tag"),
        ("alpine:" + "t" * 129, "invalid tag"),
        ("alpine@sha256:abc", "digest"),
        ("alpine@md5:" + "0" * 32, "digest"),
        (f"alpine@{DIGEST}@{DIGEST}", "digest"),
        ("a//b", "not a valid repository name component"),
        ("a/b/", "not a valid repository name component"),
        ("-a/b", "not a valid repository name component"),
        ("a_-b", "not a valid repository name component"),
        ("ghcr.io:x:1/a", "invalid registry"),
        ("ex ample.com/a", "invalid registry"),
        ("a_b.com/x", "invalid registry"),
        ("a/" + "b" * 260, "longer than 255"),
    ],
)
def test_malformed_references_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidReference, match=message):
        parse_reference(text)


def test_docker_hub_images_come_from_the_mirror_others_from_their_registry() -> None:
    mirror = "http://127.0.0.1:5000/"
    assert endpoint(parse_reference("alpine"), mirror) == ("http://127.0.0.1:5000", "library/alpine")
    assert endpoint(parse_reference("alpine")) == ("https://registry-1.docker.io", "library/alpine")
    assert endpoint(parse_reference("ghcr.io/o/x"), mirror) == ("https://ghcr.io", "o/x")
    assert endpoint(parse_reference("localhost:5000/x")) == ("http://localhost:5000", "x")
    assert endpoint(parse_reference("127.0.0.5:5000/x")) == ("http://127.0.0.5:5000", "x")
    assert endpoint(parse_reference("[::1]:5000/x")) == ("http://[::1]:5000", "x")
    assert endpoint(parse_reference("10.0.0.1:5000/x")) == ("https://10.0.0.1:5000", "x")


def test_a_mirror_path_is_a_repository_prefix_as_an_ecr_pull_through_cache_has() -> None:
    cache = "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/docker-hub/"
    assert endpoint(parse_reference("alpine:3.20"), cache) == (
        "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "docker-hub/library/alpine",
    )
    assert endpoint(parse_reference("grycap/cowsay"), "https://mirror.example.com/a/b") == (
        "https://mirror.example.com",
        "a/b/grycap/cowsay",
    )
    with pytest.raises(InvalidReference, match="must be lowercase"):
        endpoint(parse_reference("alpine"), "https://mirror.example.com/Docker-Hub")
    with pytest.raises(InvalidReference, match="expected http"):
        endpoint(parse_reference("alpine"), "https://mirror.example.com/hub?x=1")


@pytest.mark.parametrize(
    ("mirror", "message"),
    [
        ("http://mirror.example.com", "refusing plain HTTP to mirror.example.com"),
        ("http://10.1.2.3:5000", "refusing plain HTTP"),
        ("ftp://127.0.0.1", "expected http"),
        ("https://user:secret@mirror.example.com", "credentials do not belong in the URL"),
        ("mirror.example.com", "expected http"),
    ],
)
def test_mirrors_must_use_tls_unless_on_loopback(mirror: str, message: str) -> None:
    with pytest.raises(InvalidReference, match=message) as raised:
        endpoint(parse_reference("alpine"), mirror)
    assert "secret" not in str(raised.value)
