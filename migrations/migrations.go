// Package migrations embeds every service's goose migrations. Each service
// owns one folder and one PostgreSQL schema.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed product/*.sql activity/*.sql order/*.sql
var all embed.FS

// Set names a service's migrations and the schema they build.
type Set struct {
	Schema string
	FS     fs.FS
}

func sub(dir string) fs.FS {
	// fs.Sub fails only for a malformed path, which these constants are not.
	f, _ := fs.Sub(all, dir)
	return f
}

// The services' migration sets.
var (
	Product  = Set{Schema: "product", FS: sub("product")}
	Activity = Set{Schema: "activity", FS: sub("activity")}
	Order    = Set{Schema: "orders", FS: sub("order")}
)

// All lists every set, in the order a fresh database should apply them.
func All() []Set { return []Set{Product, Activity, Order} }
