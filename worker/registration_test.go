package worker

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Activities live in activities/, so that workflows/ holds only what must
// stay deterministic: no activity the workers register may come from the
// workflows package (its names and helpers may be passed in).
func TestNoActivityIsRegisteredFromWorkflows(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	registered := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !strings.HasPrefix(sel.Sel.Name, "RegisterActivity") {
				return true
			}
			registered++
			if from := workflowsIn(call.Args[0]); from != "" {
				t.Errorf("%s registers an activity from workflows: %s", name, from)
			}
			return true
		})
	}
	if registered == 0 {
		t.Fatal("no RegisterActivity call found: the test reads the wrong files")
	}
}

// workflowsIn names the first use of package workflows in e, or "".
func workflowsIn(e ast.Expr) string {
	found := ""
	ast.Inspect(e, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && found == "" {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "workflows" {
				found = "workflows." + sel.Sel.Name
			}
		}
		return found == ""
	})
	return found
}
