package redistest_test

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"egov/internal/redisscript"
	"egov/internal/redistest"

	// The packages that make scripts, so that they are in redisscript.All.
	_ "egov/counter"
	_ "egov/gateway"
	_ "egov/provider"
	_ "egov/shep"
)

// TestEveryScriptRanOnTheCluster reads what the tests of make test's
// cluster pass ran (EGOV_TEST_SCRIPT_LOG) and checks it against the code
// base: every Lua script (made by redisscript.New, as the code base makes
// them all: a direct redis.NewScript fails this test) and every function
// with a transaction (TxPipelined, TxPipeline) must have run on the Redis
// Cluster, where a key of another slot fails it. Transactions are checked
// by the function that runs them: a function with two is covered by either.
func TestEveryScriptRanOnTheCluster(t *testing.T) {
	path := os.Getenv(redistest.EnvScriptLog)
	if path == "" {
		t.Skip("make test's cluster pass runs it, after the tests whose scripts it checks (" + redistest.EnvScriptLog + ")")
	}
	ran := map[string]bool{}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		ran[sc.Text()] = true
	}
	scripts, txs := codeBase(t, filepath.Join("..", ".."))
	// The scripts as the packages made them when this test imported them.
	made := map[string]bool{}
	for _, s := range redisscript.All() {
		made[s.Where] = true
		if !ran["script "+s.SHA] {
			t.Errorf("the script made at %s never ran on the cluster", s.Where)
		}
	}
	for _, where := range scripts {
		if !made[where] {
			t.Errorf("the script made at %s is not in redisscript.All(): import its package in this test", where)
		}
	}
	for key, where := range txs {
		if !ran[key] {
			t.Errorf("the transaction at %s (%s) never ran on the cluster", where, key)
		}
	}
	if len(scripts) < 10 || len(txs) < 3 {
		t.Fatalf("%d scripts and %d functions with transactions found in the code base: the search is broken", len(scripts), len(txs))
	}
	t.Logf("%d Lua scripts and %d functions with transactions, each run on the cluster", len(scripts), len(txs))
}

// codeBase finds, in the module at root, where each script is made
// (file:line of redisscript.New; a redis.NewScript fails the test) and each
// function with a transaction ("tx egov/pkg.(*T).f" to where it is).
func codeBase(t *testing.T, root string) (scripts []string, txs map[string]string) {
	t.Helper()
	txs = map[string]string{}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	err = filepath.WalkDir(abs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != abs {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(abs, filepath.Dir(path))
		if rel == filepath.Join("internal", "redistest") || rel == filepath.Join("internal", "redisscript") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		pkg := "egov/" + filepath.ToSlash(rel)
		if rel == "." {
			pkg = "egov"
		}
		for _, decl := range file.Decls {
			ast.Inspect(decl, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				pos := fset.Position(call.Pos())
				where := pos.Filename + ":" + strconv.Itoa(pos.Line)
				x, _ := sel.X.(*ast.Ident)
				switch {
				case sel.Sel.Name == "NewScript" && x != nil && x.Name == "redis":
					t.Errorf("%s: a script made by redis.NewScript: make it with redisscript.New, so that it is checked", where)
				case sel.Sel.Name == "New" && x != nil && x.Name == "redisscript":
					scripts = append(scripts, where)
				case sel.Sel.Name == "TxPipelined" || sel.Sel.Name == "TxPipeline":
					if fn, ok := decl.(*ast.FuncDecl); ok {
						txs["tx "+pkg+"."+funcName(fn)] = where
					}
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return scripts, txs
}

// funcName is a declared function's name as the runtime gives it:
// (*T).m, T.m or f.
// A generic one's type parameters read [...].
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		if fn.Type.TypeParams != nil {
			return fn.Name.Name + "[...]"
		}
		return fn.Name.Name
	}
	typ, star := fn.Recv.List[0].Type, ""
	if s, ok := typ.(*ast.StarExpr); ok {
		typ, star = s.X, "*"
	}
	name := ""
	switch x := typ.(type) {
	case *ast.Ident:
		name = x.Name
	case *ast.IndexExpr:
		name = x.X.(*ast.Ident).Name + "[...]"
	case *ast.IndexListExpr:
		name = x.X.(*ast.Ident).Name + "[...]"
	}
	if star != "" {
		return "(*" + name + ")." + fn.Name.Name
	}
	return name + "." + fn.Name.Name
}

func TestDeclaredFunction(t *testing.T) {
	for in, want := range map[string]string{
		"egov/gateway.(*App).create":         "egov/gateway.(*App).create",
		"egov/gateway.(*App).create.func1":   "egov/gateway.(*App).create",
		"egov/gateway.(*App).create.func1.2": "egov/gateway.(*App).create",
		"egov/gateway.(*App).sweep-range1":   "egov/gateway.(*App).sweep",
		"egov/gateway.(*App).f.deferwrap1":   "egov/gateway.(*App).f",
		"egov/gateway.funcName":              "egov/gateway.funcName",
		"egov/shep.perQueue[...].gowrap1":    "egov/shep.perQueue[...]",
		"egov/sms.New":                       "egov/sms.New",
	} {
		if got := redistest.DeclaredFunction(in); got != want {
			t.Errorf("DeclaredFunction(%q) = %q, want %q", in, got, want)
		}
	}
}
