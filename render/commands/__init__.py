"""The subcommands of `faas` (render/faas_cli.py), one module each.

Each module exposes `register(subparsers)`, which adds its parser and sets `run=callable(args) ->
int` as its default. This is the only layer that sees argparse objects: it turns them into calls
of `render.local`, `render.aws`, `render.review`, `render.terraform` and `render.fdl`. The list of
subcommands is in render/faas_cli.py, so importing one module here loads no other.

- `local`: `faas local`, the local AWS emulator until Ctrl-C;
- `put`: `faas put`, files or folders uploaded into a function's input folder;
- `get`: `faas get`, a function's output folders downloaded;
- `invoke`: `faas invoke`, a function invoked with a JSON payload, synchronously or not;
- `logs`: `faas logs`, a function's CloudWatch log group;
- `job`: `faas job`, a Batch job's status and log, whatever its state;
- `ls`: `faas ls`, the deployed functions with their mode, memory and Batch queue;
- `failed`: `faas failed`, what the deployments' failures queues kept;
- `retry`: `faas retry`, kept failures replayed; those that succeed leave the queue;
- `review`: `faas review`, a saved plan summarised per function, with warnings;
- `diagram`: `faas diagram`, an FDL's functions, buckets, triggers and Batch queues as a picture;
- `options`: what the subcommands and `faas-render` share, their options and how failures are
  reported;
- `errors`: the exit statuses and `CommandError`; the layers below raise their own errors, which
  `options.reported` turns into statuses.
"""

from __future__ import annotations
