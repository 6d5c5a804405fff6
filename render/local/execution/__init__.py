"""Running deployed functions and jobs on this machine, as Lambda and Batch run them.

Nothing here knows of the emulator (render/local): it is given an AWS connection and the
deployment's descriptions, and runs what they name.

- `lambda_runner`: .zip functions on this host's Python, in the sandbox, through `lambda_bootstrap`
  (the child process, as Lambda's Python runtime bootstrap), on a root of `zip_root`'s: that
  Python's folders bound read-only, and nothing else of the host;
- `image_lambda`: functions deployed as images, in warm instances (`image_runner` starts and
  serves them, `runtime_api` is each instance's Lambda Runtime API, `output_lines` reads what
  they print);
- `batch_runner`: submitted Batch jobs, from their job definitions' images;
- `role_credentials`: each run's credentials, of its own role (execution role, job role);
- `process`: one process of a run, its log and its limits, `kept_output` bounding what is kept of
  its output;
- `network`: each run's own network namespace: its loopback, the emulator relayed, the internet
  when allowed;
- `deployed_images`: the images read back from the emulator's ECR (or a registry) and unpacked;
- `rootfs`: layers unpacked into a root folder, with `root_fd` confining every path to it;
- `sandbox`: running a command in that root without a container daemon, as an unprivileged user
  (`sandbox_commands` has each tool's command line)
  (`enter_root` takes the function's environment and drops privileges last, after unshare's
  chroot), with `handover` keeping that environment away from every host-side step,
  `seccomp_filter` refusing the system calls a function has no use for, `cgroups` bounding each
  run's memory and processes, and `scratch_fs` giving it a sized /tmp on disk;
  `elf` reads the program interpreter it may need;
- `errors`: `LocalError`, what local mode raises for the user.

May import `render.aws`, `render.terraform` and `render.fdl`.
"""
