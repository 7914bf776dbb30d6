package redistest_test

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"egov/internal/redistest"
)

// TestEveryScriptRanOnTheCluster reads what the tests of make test's
// cluster pass ran (EGOV_TEST_SCRIPT_LOG) and finds, in the code base,
// every Lua script (redis.NewScript) and every transaction (TxPipelined,
// TxPipeline): each must have run on the Redis Cluster, where a key of
// another slot fails it.
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
	want := codeBaseScripts(t, filepath.Join("..", ".."))
	if len(want) < 10 {
		t.Fatalf("%d scripts and transactions found in the code base: the search is broken", len(want))
	}
	scripts, txs := 0, 0
	for key, where := range want {
		if strings.HasPrefix(key, "script ") {
			scripts++
		} else {
			txs++
		}
		if !ran[key] {
			t.Errorf("%s (%s) never ran on the cluster", where, key)
		}
	}
	t.Logf("%d Lua scripts and %d functions with transactions, each run on the cluster", scripts, txs)
}

// codeBaseScripts maps each script ("script SHA1") and each function with
// a transaction ("tx egov/pkg.(*T).f") of the module at root to where it is.
func codeBaseScripts(t *testing.T, root string) map[string]string {
	t.Helper()
	want := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		if rel == filepath.Join("internal", "redistest") {
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
				where := fset.Position(call.Pos()).String()
				switch sel.Sel.Name {
				case "NewScript":
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "redis" && len(call.Args) == 1 {
						if lit, ok := call.Args[0].(*ast.BasicLit); ok {
							src, err := strconv.Unquote(lit.Value)
							if err != nil {
								t.Fatalf("%s: %v", where, err)
							}
							sum := sha1.Sum([]byte(src))
							want["script "+hex.EncodeToString(sum[:])] = where
						}
					}
				case "TxPipelined", "TxPipeline":
					if fn, ok := decl.(*ast.FuncDecl); ok {
						want["tx "+pkg+"."+funcName(fn)] = where
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
	return want
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
		"egov/shep.perQueue[...].gowrap1":    "egov/shep.perQueue[...]",
		"egov/sms.New":                       "egov/sms.New",
	} {
		if got := redistest.DeclaredFunction(in); got != want {
			t.Errorf("DeclaredFunction(%q) = %q, want %q", in, got, want)
		}
	}
}
