"""The FDL: from YAML files to a validated, fully resolved `Deployment`.

Every problem is an `FdlError` naming file, line and key. Imports nothing else of faas-render; the
runtime contract comes from `faas_supervisor`.

- `load`: an FDL file with its config files and overrides in, a validated `Deployment` out;
- `yaml_source`: YAML read with the line of every key, every read bounded in size, depth and nodes
  (aliases counted expanded);
- `overrides`: the `--set` flags, each value read as YAML through `yaml_source`;
- `settings`: each function's effective settings from their layers and their precedence,
  remembering where each value came from;
- `defaults`: the built-in defaults, and the outdated SCAR defaults that scar.cfg files carry;
- `schema_check`: settings checked against the published JSON Schema (`schema/`), with located
  errors;
- `resolve`: merged settings turned into the model, every problem collected before failing;
- `function`: one function's settings checked and turned into a `Function`;
- `batch`: a function's `batch` section, its job and the compute profile it shares with others;
- `locations`: the S3 `input` and `output` paths and the buckets they name;
- `checks`: checks across functions (names, region, triggers, workflow loops, deployed
  environments);
- `lambda_environment`: the Lambda environment as deployed, and its size as Lambda measures it;
- `container_environment`: the script's variables as deployed (names Lambda reserves under a
  prefix), never in an image;
- `instance_types`: EC2 instance types' vCPUs and memory, and the most memory Batch can give a
  job on one;
- `storage_credentials`: other accounts' S3 keys, checked and kept out of every file;
- `model`: the validated, fully resolved deployment that the templates render;
- `errors`: errors that carry a location in a source file.
"""
