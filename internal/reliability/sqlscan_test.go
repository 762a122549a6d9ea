package reliability

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sqlText matches the words that start SQL statements. Upper case only:
// the code base writes SQL in upper case, and messages such as "update
// product" are not SQL.
var sqlText = regexp.MustCompile(`\b(SELECT|INSERT|UPDATE|DELETE|DROP|CREATE|ALTER|TRUNCATE|GRANT)\b`)

// sqlArg gives, for each method that runs SQL, the index of its SQL text
// argument (pgx: ctx comes first, except in Batch.Queue).
var sqlArg = map[string]int{"Exec": 1, "Query": 1, "QueryRow": 1, "Queue": 0, "Prepare": 2}

// sqlScanner finds SQL built from anything but constants in one package.
type sqlScanner struct {
	fset   *token.FileSet
	consts map[string]bool // names declared const anywhere in the package
	calls  int             // SQL-running calls checked
}

// scanPackage returns a problem per place where SQL text is made with
// fmt.Sprintf or concatenated from anything but constants, column-list
// constants and pgx.Identifier{…}.Sanitize(), and how many calls that run
// SQL it checked.
func scanPackage(fset *token.FileSet, files []*ast.File) (problems []string, calls int) {
	s := &sqlScanner{fset: fset, consts: map[string]bool{}}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if d, ok := n.(*ast.GenDecl); ok && d.Tok == token.CONST {
				for _, spec := range d.Specs {
					for _, name := range spec.(*ast.ValueSpec).Names {
						s.consts[name.Name] = true
					}
				}
			}
			return true
		})
	}
	for _, f := range files {
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			assigns := assignments(fn.Body)
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					problems = append(problems, s.checkCall(n, assigns)...)
				case *ast.BinaryExpr:
					// SQL text glued to something that is not constant, wherever it happens.
					if n.Op == token.ADD && s.hasSQLLiteral(n) && !s.safe(n, assigns, map[string]bool{}) {
						problems = append(problems, s.pos(n)+": SQL concatenated with a non-constant value")
						return false
					}
				}
				return true
			})
		}
	}
	return problems, s.calls
}

func (s *sqlScanner) pos(n ast.Node) string { return s.fset.Position(n.Pos()).String() }

func (s *sqlScanner) checkCall(call *ast.CallExpr, assigns map[string][]ast.Expr) []string {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return nil
	}
	if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "fmt" && strings.HasSuffix(sel.Sel.Name, "printf") && len(call.Args) > 0 {
		format := call.Args[0]
		if sel.Sel.Name == "Fprintf" && len(call.Args) > 1 {
			format = call.Args[1]
		}
		if lit, ok := format.(*ast.BasicLit); ok && lit.Kind == token.STRING && sqlText.MatchString(unquote(lit.Value)) {
			return []string{s.pos(call) + ": SQL formatted with fmt." + sel.Sel.Name}
		}
		return nil
	}
	i, ok := sqlArg[sel.Sel.Name]
	if !ok || len(call.Args) <= i {
		return nil
	}
	s.calls++
	if !s.safe(call.Args[i], assigns, map[string]bool{}) {
		return []string{s.pos(call) + ": " + sel.Sel.Name + " runs SQL text that is not built from constants only"}
	}
	return nil
}

// safe reports whether e is built only from string literals, constants,
// column-list identifiers (names ending in Columns) and identifiers quoted
// by pgx.Identifier{…}.Sanitize(), following local variables to what they
// were assigned.
func (s *sqlScanner) safe(e ast.Expr, assigns map[string][]ast.Expr, seen map[string]bool) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Kind == token.STRING
	case *ast.ParenExpr:
		return s.safe(e.X, assigns, seen)
	case *ast.BinaryExpr:
		return e.Op == token.ADD && s.safe(e.X, assigns, seen) && s.safe(e.Y, assigns, seen)
	case *ast.Ident:
		if s.consts[e.Name] || strings.HasSuffix(e.Name, "Columns") || seen[e.Name] {
			return true
		}
		rhs, ok := assigns[e.Name]
		if !ok {
			return false // a parameter or a package variable: anything may be in it
		}
		seen[e.Name] = true
		for _, r := range rhs {
			if !s.safe(r, assigns, seen) {
				return false
			}
		}
		return true
	case *ast.CallExpr:
		// pgx.Identifier{…}.Sanitize() quotes an identifier.
		sel, ok := e.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Sanitize" {
			return false
		}
		lit, ok := sel.X.(*ast.CompositeLit)
		if !ok {
			return false
		}
		typ, ok := lit.Type.(*ast.SelectorExpr)
		return ok && typ.Sel.Name == "Identifier"
	}
	return false
}

// hasSQLLiteral reports whether a string literal directly in the sum e
// holds SQL.
func (s *sqlScanner) hasSQLLiteral(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Kind == token.STRING && sqlText.MatchString(unquote(e.Value))
	case *ast.ParenExpr:
		return s.hasSQLLiteral(e.X)
	case *ast.BinaryExpr:
		return e.Op == token.ADD && (s.hasSQLLiteral(e.X) || s.hasSQLLiteral(e.Y))
	}
	return false
}

// assignments maps each local name in body to every value assigned to it
// (x := v, x = v, x += v, var x = v). A name assigned from a multi-value
// call or a range gets nil, which is never safe.
func assignments(body *ast.BlockStmt) map[string][]ast.Expr {
	out := map[string][]ast.Expr{}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for i, l := range n.Lhs {
				id, ok := l.(*ast.Ident)
				if !ok {
					continue
				}
				var v ast.Expr
				if len(n.Rhs) == len(n.Lhs) {
					v = n.Rhs[i]
				}
				out[id.Name] = append(out[id.Name], v)
			}
		case *ast.ValueSpec:
			for i, id := range n.Names {
				var v ast.Expr
				if len(n.Values) == len(n.Names) {
					v = n.Values[i]
				}
				if v != nil || n.Type == nil {
					out[id.Name] = append(out[id.Name], v)
				}
			}
		case *ast.RangeStmt:
			for _, x := range []ast.Expr{n.Key, n.Value} {
				if id, ok := x.(*ast.Ident); ok {
					out[id.Name] = append(out[id.Name], nil)
				}
			}
		}
		return true
	})
	return out
}

func unquote(lit string) string {
	if s, err := strconv.Unquote(lit); err == nil {
		return s
	}
	return lit
}

// TestInjection_NoSQLBuiltFromStrings scans every non-test Go file under
// internal/ and cmd/: no SQL is formatted with fmt, and the SQL text of
// every Exec, Query, QueryRow and Batch.Queue call is built from constants
// only (column-list constants and pgx.Identifier{…}.Sanitize() included),
// so user input reaches the database as bound parameters alone.
func TestInjection_NoSQLBuiltFromStrings(t *testing.T) {
	fset := token.NewFileSet()
	pkgs := map[string][]*ast.File{}
	files := 0
	for _, root := range []string{"../../internal", "../../cmd"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			pkgs[filepath.Dir(path)] = append(pkgs[filepath.Dir(path)], f)
			files++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	calls := 0
	for _, fs := range pkgs {
		problems, n := scanPackage(fset, fs)
		for _, p := range problems {
			t.Error(p)
		}
		calls += n
	}
	if files < 30 {
		t.Fatalf("scanned only %d files: is the walk rooted right?", files)
	}
	if calls < 30 {
		t.Fatalf("only %d calls that run SQL found: is the scan looking at the right calls?", calls)
	}
	t.Logf("%d Go files in %d packages scanned; the SQL text of all %d Exec/Query/QueryRow/Queue calls is constant, bound parameters carry the input",
		files, len(pkgs), calls)
}

// TestInjection_ScannerCatchesBuiltSQL makes sure the scan above would
// catch what it looks for, and lets the safe patterns through.
func TestInjection_ScannerCatchesBuiltSQL(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		bad       bool
	}{
		{"Sprintf", `q := fmt.Sprintf("SELECT * FROM t WHERE name = '%s'", name); pool.Exec(ctx, q)`, true},
		{"SprintfOnly", `_ = fmt.Sprintf("DELETE FROM t WHERE id = %d", id)`, true},
		{"ConcatInCall", `pool.QueryRow(ctx, "SELECT * FROM t WHERE name = '"+name+"'")`, true},
		{"ConcatInVariable", `q := "SELECT * FROM t WHERE id = " + id; rows, _ := tx.Query(ctx, q)`, true},
		{"AppendedLater", `q := "SELECT * FROM t"; q += " WHERE name = " + name; tx.Exec(ctx, q)`, true},
		{"Parameter", `run(ctx, "x")`, false},
		{"QueryParameter", `pool.Exec(ctx, sql)`, true},
		{"Queue", `b.Queue("UPDATE t SET a = " + v)`, true},
		{"Constant", `const q = "SELECT " + tColumns + " FROM t WHERE id = $1"; pool.QueryRow(ctx, q, id)`, false},
		{"Literal", `pool.Exec(ctx, "DELETE FROM t WHERE id = $1", id)`, false},
		{"ColumnsConstant", `pool.Query(ctx, "SELECT "+orderColumns+" FROM t")`, false},
		{"Sanitized", `q := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize(); q += " TEMPLATE " + pgx.Identifier{tmpl}.Sanitize(); conn.Exec(ctx, q)`, false},
		{"Message", `return fmt.Errorf("update product %d: %w", id, err)`, false},
		{"URLQuery", `q := r.URL.Query(); _ = q`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "package p\nfunc f() {\n" + strings.ReplaceAll(tc.src, "; ", "\n") + "\n}\n"
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "p.go", src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			problems, _ := scanPackage(fset, []*ast.File{f})
			if got := len(problems) > 0; got != tc.bad {
				t.Errorf("flagged = %v, want %v: %v", got, tc.bad, problems)
			}
		})
	}
}
