package architecture_test

import (
	"bufio"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/seckill/seckill/"

// services are the three services; none may import another, and no
// platform package may import one.
var services = []string{"internal/product", "internal/activity", "internal/order"}

// TestArchitecture_ImportsMatchTheRooms holds the production imports of
// every package to ARCHITECTURE.md's table of rooms, and to the two rules
// that hold whatever the table says: the platform knows no service (nor the
// purchase engine), and the services do not import each other.
func TestArchitecture_ImportsMatchTheRooms(t *testing.T) {
	rooms := readRooms(t, "ARCHITECTURE.md")
	pkgs := productionImports(t)
	if len(pkgs) < 20 {
		t.Fatalf("found %d packages; the walk is broken", len(pkgs))
	}
	for pkg, imports := range pkgs {
		room, ok := roomOf(rooms, pkg)
		if !ok {
			t.Errorf("%s has no row in ARCHITECTURE.md's rooms", pkg)
			continue
		}
		for _, imp := range imports {
			if !slices.ContainsFunc(room.mayImport, func(p string) bool { return matches(p, imp) }) {
				t.Errorf("%s imports %s, which its row (%s) does not allow", pkg, imp, room.pattern)
			}
			if matches("internal/platform/...", pkg) && (slices.ContainsFunc(services, func(s string) bool { return matches(s+"/...", imp) }) ||
				matches("internal/seckill/...", imp)) {
				t.Errorf("platform package %s imports %s: the platform knows nothing of products, activities or orders", pkg, imp)
			}
			for _, s := range services {
				if matches(s+"/...", pkg) && !matches(s+"/...", imp) && slices.ContainsFunc(services, func(o string) bool { return matches(o+"/...", imp) }) {
					t.Errorf("service %s imports service %s: services talk over HTTP only", pkg, imp)
				}
			}
		}
	}
}

// TestArchitecture_RulesCatchViolations makes sure the two fixed rules can
// fail: a test that cannot fail is a defect.
func TestArchitecture_RulesCatchViolations(t *testing.T) {
	for _, tc := range []struct{ pattern, path string }{
		{"internal/platform/...", "internal/platform/httpx"},
		{"internal/platform/...", "internal/platform"},
		{"internal/activity/...", "internal/activity"},
		{"migrations", "migrations"},
	} {
		if !matches(tc.pattern, tc.path) {
			t.Errorf("%s does not match %s", tc.pattern, tc.path)
		}
	}
	for _, tc := range []struct{ pattern, path string }{
		{"internal/platform/...", "internal/platformer"},
		{"internal/activity", "internal/activity/x"},
		{"internal/seckill/...", "internal/seckillx"},
	} {
		if matches(tc.pattern, tc.path) {
			t.Errorf("%s matches %s", tc.pattern, tc.path)
		}
	}
}

type room struct {
	pattern   string
	mayImport []string
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readRooms reads the table under "## Rooms": the first column is a
// package pattern, the last the patterns it may import (— for none).
func readRooms(t *testing.T, path string) []room {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rooms []room
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Rooms"
			continue
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(strings.Trim(line, "|"), " | ")
		first := backticked.FindStringSubmatch(cols[0])
		r := room{pattern: first[1]}
		for _, m := range backticked.FindAllStringSubmatch(cols[len(cols)-1], -1) {
			r.mayImport = append(r.mayImport, m[1])
		}
		rooms = append(rooms, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rooms) == 0 {
		t.Fatalf("no rooms found in %s", path)
	}
	return rooms
}

// roomOf finds pkg's row: an exact one first, else the longest pattern.
func roomOf(rooms []room, pkg string) (room, bool) {
	var best room
	found := false
	for _, r := range rooms {
		if r.pattern == pkg {
			return r, true
		}
		if matches(r.pattern, pkg) && len(r.pattern) > len(best.pattern) {
			best, found = r, true
		}
	}
	return best, found
}

// matches reports whether path is pattern, or, for a pattern ending in
// "/...", the directory before it or anything below it.
func matches(pattern, path string) bool {
	if dir, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == dir || strings.HasPrefix(path, dir+"/")
	}
	return pattern == path
}

// productionImports returns, per package directory of this module, the
// module's packages its non-test files import.
func productionImports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if rest, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out[pkg], rest) {
				out[pkg] = append(out[pkg], rest)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
