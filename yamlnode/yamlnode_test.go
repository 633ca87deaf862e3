package yamlnode

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func root(t *testing.T, text string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func TestReaderReportsEveryProblemInLineOrderWithItsPath(t *testing.T) {
	r := &Reader{File: "alertflow.yaml"}
	m := r.Mapping(root(t, "b: [x]\nc: 1\nzz: 2\nb: again\n"), "top", "a", "b", "c")
	if _, ok := r.Scalar(m["b"].Val, "top.b"); ok {
		t.Error("a list read as a single value")
	}
	if _, ok := r.Boolean(m["c"].Val, "top.c"); ok {
		t.Error("1 read as a boolean")
	}
	want := strings.Join([]string{
		"alertflow.yaml:1: top.b: want a single value, not a list",
		"alertflow.yaml:2: top.c: want true or false",
		`alertflow.yaml:3: top.zz: unknown key "zz": want one of a, b, c`,
		"alertflow.yaml:4: top.b: given twice (first on line 1)",
	}, "\n")
	if err := r.Err(); err == nil || err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
}

func TestListTakesOneValueAsAListOfOne(t *testing.T) {
	r := &Reader{}
	items, ok := r.List(root(t, "x: main\n").Content[1], "x")
	if !ok || len(items) != 1 || items[0].Value != "main" || r.Err() != nil {
		t.Errorf("List = %v, %v, %v", items, ok, r.Err())
	}
	if _, ok := r.List(root(t, "x: []\n").Content[1], "x"); ok {
		t.Error("an empty list accepted")
	}
}

func TestJSONKeepsLinesAndDecodesEscapes(t *testing.T) {
	n := JSON([]byte("{\"ref\":\n \"a\\/b\\ud83d\\ude00\"}"))
	r := &Reader{}
	m := r.Mapping(n, "m", "ref")
	if v := m["ref"].Val; v == nil || v.Value != "a/b\U0001F600" || v.Line != 2 {
		t.Fatalf("ref %+v", v)
	}
}

func TestSyntaxErrorKeepsGoYAMLsLine(t *testing.T) {
	r := &Reader{File: "f.yaml"}
	var doc yaml.Node
	r.SyntaxError(yaml.Unmarshal([]byte("a: b\n c: d\n"), &doc))
	if err := r.Err(); err == nil || !strings.HasPrefix(err.Error(), "f.yaml:2: not valid YAML: ") {
		t.Errorf("error %v", err)
	}
}
