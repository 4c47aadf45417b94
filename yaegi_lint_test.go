package tokenhandler_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPluginCodeAvoidsYaegiFaults reads the plugin's source (every package Traefik interprets)
// and refuses the constructs that Yaegi v0.16.1 gets wrong, so that a fault is caught where it is
// written rather than by a test that happens to reach it. Each rule names the fault.
func TestPluginCodeAvoidsYaegiFaults(t *testing.T) {
	const module = "github.com/tokenhandler/traefik-token-handler"
	dirs := []string{".", "bfftoken", "phantomtoken", "oauthagent"}
	_ = filepath.Walk("internal", func(path string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(src), "//go:build") {
				t.Errorf("%s: //go:build lines are ignored by Yaegi, which reads only // +build", file)
			}
			f, err := parser.ParseFile(fset, file, src, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if strings.Contains(strings.SplitN(path, "/", 2)[0], ".") && !strings.HasPrefix(path, module) {
					t.Errorf("%s: imports %s: plugin packages use the standard library only", file, path)
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if n == nil {
					return false
				}
				pos := fset.Position(n.Pos()).String()
				switch n := n.(type) {
				case *ast.SelectStmt:
					t.Errorf("%s: select: Yaegi shares a select's case list between goroutines", pos)
				case *ast.AssignStmt:
					if n.Tok == token.ASSIGN && len(n.Lhs) > 1 {
						for _, lhs := range n.Lhs {
							if _, ok := lhs.(*ast.SelectorExpr); ok {
								t.Errorf("%s: multiple assignment to a field: Yaegi loses values", pos)
								break
							}
						}
					}
				case *ast.SelectorExpr:
					if x, ok := n.X.(*ast.Ident); ok && x.Name == "errors" && n.Sel.Name == "As" {
						t.Errorf("%s: errors.As panics under Yaegi with interpreted types", pos)
					}
					if n.Sel.Name == "CheckRedirect" {
						t.Errorf("%s: an interpreted CheckRedirect panics when the standard library calls it", pos)
					}
				case *ast.CallExpr:
					if id, ok := n.Fun.(*ast.Ident); ok && (id.Name == "min" || id.Name == "max" || id.Name == "clear") && id.Obj == nil {
						t.Errorf("%s: the %s builtin is undefined in Yaegi", pos, id.Name)
					}
				case *ast.FuncDecl:
					if n.Type.TypeParams != nil {
						t.Errorf("%s: generics are unreliable under Yaegi", pos)
					}
				case *ast.TypeSpec:
					if n.TypeParams != nil {
						t.Errorf("%s: generic types are unreliable under Yaegi", pos)
					}
				case *ast.RangeStmt:
					if lit, ok := n.X.(*ast.BasicLit); ok && lit.Kind == token.INT {
						t.Errorf("%s: range over an integer panics Yaegi's loader", pos)
					}
				case *ast.GoStmt:
					t.Errorf("%s: a goroutine that panics kills Traefik; the roles start none", pos)
				}
				return true
			})
		}
	}
}
