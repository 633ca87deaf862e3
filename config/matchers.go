package config

import (
	"bytes"
	"errors"
	"io"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/alertflow/alertflow/route"
)

// ParseMatchers reads one set of matchers on its own, written as the value
// of a route's match key (JSON is YAML, so a silence's JSON matchers read
// the same way). path prefixes the paths in errors ("matchers"), which
// name no file: the text is a request's, not a file's. An empty
// set is refused: matchers alone, unlike a route's, are never meant to
// match every alert. Like Parse, it reports every problem, joined.
func ParseMatchers(path string, data []byte) (route.Matchers, error) {
	p := &parser{inRoute: map[*yaml.Node]bool{}}
	var doc yaml.Node
	err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc)
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		p.syntaxError(err)
	case err != nil || len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" ||
		doc.Content[0].Kind == yaml.MappingNode && len(doc.Content[0].Content) == 0:
		p.errorf(nil, path, "at least one matcher is required, such as {\"project\":\"team-a/*\"}")
	}
	var m route.Matchers
	if len(p.errs) == 0 {
		m = p.matchers(doc.Content[0], path)
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int { return a.Line - b.Line })
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return route.Matchers{}, errors.Join(errs...)
	}
	return m, nil
}
