package spec

import _ "embed"

//go:embed schema.json
var schema string

// JSONSchema returns a JSON Schema (draft 2020-12) of slipway.yaml for
// editors: every field with its type, description, default and rules, and
// no unknown fields. `slipway schema` prints it. A few rules the schema
// cannot express (unique hosts, relative output paths that stay inside the
// directory) are left to Parse. The caller owns the returned slice.
func JSONSchema() []byte { return []byte(schema) }
