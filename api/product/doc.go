// Package productdocs holds the product service's Swagger 2.0 document
// (product_swagger.json, written by make swag) and serves it to the Swagger UI
// exactly as committed: the document is what clients, the contract test and
// CI's checkers read.
package productdocs

import (
	_ "embed"

	"github.com/swaggo/swag"
)

//go:embed product_swagger.json
var doc []byte

// JSON returns the committed document.
func JSON() []byte { return append([]byte(nil), doc...) }

type spec struct{}

func (spec) ReadDoc() string { return string(doc) }

// The document has no host: a client resolves its paths against the URL it
// fetched the document from, so it stays right behind any proxy or port.
func init() { swag.Register("product", spec{}) }
