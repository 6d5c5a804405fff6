"""faas-render: SCAR function definitions (FDL) in, Terraform root modules out."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("faas-render")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
