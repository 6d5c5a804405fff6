"""Entry script of the static faas-supervisor: exactly ``python -m faas_supervisor``.

The package's ``__main__`` decides what the process does (which mode, which module), so the
binary never needs rebuilding logic of its own when that dispatch changes.
"""

import runpy

runpy.run_module("faas_supervisor", run_name="__main__", alter_sys=True)
