package api

import _ "embed"

// openAPI is the OpenAPI 3 document of every endpoint, served at /openapi.json.
//
//go:embed openapi.json
var openAPI []byte
