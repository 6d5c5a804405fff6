"""Local mode: the AWS emulator on loopback, and what it does that AWS would.

This folder is the AWS side: the emulator, its services and what they keep. It has two rooms,
used from here and never the other way round: `moto` (every change made to moto, checked
against the installed release) and `execution` (running functions and jobs in their images,
which knows nothing of the emulator).

- `emulator`: the moto server on loopback, set up the way faas-render needs it;
- `service`: what `faas local` runs for every client: uploads' notifications and Invoke requests,
  queued for worker threads;
- `activity`: following the service's progress from another process (`faas put`, `faas invoke`);
- `cloud`: the workflow loop, from an event to everything it chains (Lambda, Batch, S3);
- `job_runs`: a submitted Batch job run, its end said, its state and failure kept;
- `emulated_functions`: functions as moto holds them (code, description, reserved concurrency);
- `s3_events`: S3 event notifications, read from a bucket's configuration, sent and received;
- `deployed_cache`: buckets' triggers and functions' descriptions, read once per workflow;
- `failures`: asynchronous retries, on-failure destinations and failed jobs' events, as AWS keeps them;
- `options`: how local mode runs functions (sandbox, registry mirror, concurrency);
- `progress`: the progress lines and the summary of a run;
- `ecr_blobs`: the bytes pushed to the emulator's ECR, on disk;
- `state`: `faas local --state DIR`: the recorded requests replayed at start, the journal of
  in-flight events;
- `work_folders`: the temporary folders local mode works in, marked with their owner, and the
  ones dead processes left, removed at `faas local`'s start;
- `registry`: layer downloads and the read-only registry view of the emulator's ECR;
- `function_traffic`: what the emulator answers to functions (through their namespace's relay);
- `iam_policy`: identity policies evaluated as AWS does, for requests signed with a role's credentials;
- `moto`: the patches (see its own docstring);
- `execution`: the Lambda and Batch runners, images, sandboxes (see its own docstring).

May import `render.aws`, `render.terraform` and `render.fdl`.
"""
