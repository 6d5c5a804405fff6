"""The FDL: from YAML files to a validated, fully resolved `Deployment`.

Owns reading FDL and config files with the line of every key (yaml_source), the settings layers
and their precedence (settings, defaults), the published JSON Schema (schema/, schema_check), the
semantic checks that turn settings into the model (resolve), the model itself (model), and other
accounts' storage keys (storage_credentials). Every problem is an `FdlError` naming file, line and
key. Imports nothing else of faas-render; the runtime contract comes from `faas_supervisor`.
"""
