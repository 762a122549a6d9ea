// Command seckill-apidoc finishes the Swagger documents swag writes (make swag
// runs it on api/<service>/<service>_swagger.json) with what swag's
// annotations cannot say, and refuses a document that tools cannot use:
//
//   - every object schema with properties is closed (additionalProperties:
//     false): the services refuse unknown fields in what they read and send
//     none they do not document;
//   - a non-body parameter's example, which Swagger 2.0 does not allow there,
//     becomes x-example, which Swagger 2.0 allows and Dredd reads;
//   - every operation must have an operationId, a tag, and an example for
//     each path parameter, or the command fails.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "seckill-apidoc:", err)
		os.Exit(1)
	}
}

func run(files []string, stderr io.Writer) error {
	if len(files) == 0 {
		return errors.New("usage: seckill-apidoc api/<service>/<service>_swagger.json [more files]")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		out, err := finish(b)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if err := os.WriteFile(f, out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// finish returns the finished document, or why it cannot be used.
func finish(b []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	defs, _ := doc["definitions"].(map[string]any)
	for _, d := range defs {
		closeObjects(d)
	}
	var problems []string
	paths, _ := doc["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for method, o := range ops {
			op, _ := o.(map[string]any)
			where := strings.ToUpper(method) + " " + path
			if id, _ := op["operationId"].(string); id == "" {
				problems = append(problems, where+" has no operationId (@ID)")
			}
			if tags, _ := op["tags"].([]any); len(tags) == 0 {
				problems = append(problems, where+" has no tag (@Tags)")
			}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				param, _ := p.(map[string]any)
				if param["in"] == "body" {
					if s, ok := param["schema"].(map[string]any); ok {
						closeObjects(s)
					}
					continue
				}
				if ex, ok := param["example"]; ok {
					param["x-example"] = ex
					delete(param, "example")
				}
				if _, ok := param["x-example"]; !ok && param["in"] == "path" {
					problems = append(problems, fmt.Sprintf("%s: path parameter %v has no example", where, param["name"]))
				}
			}
			responses, _ := op["responses"].(map[string]any)
			for _, r := range responses {
				if resp, ok := r.(map[string]any); ok {
					if s, ok := resp["schema"].(map[string]any); ok {
						closeObjects(s)
					}
				}
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("the document is not complete:\n  %s", strings.Join(problems, "\n  "))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// closeObjects sets additionalProperties to false on every schema in s that
// lists properties and says nothing about others. The second half of an
// allOf that refines the envelope's data is left open: closing it would
// refuse the envelope's own fields.
func closeObjects(s any) {
	m, ok := s.(map[string]any)
	if !ok {
		return
	}
	if _, has := m["properties"]; has {
		if _, set := m["additionalProperties"]; !set {
			m["additionalProperties"] = false
		}
	}
	for k, v := range m {
		switch k {
		case "allOf":
			for _, part := range v.([]any) {
				pm, _ := part.(map[string]any)
				props, _ := pm["properties"].(map[string]any)
				for _, p := range props {
					closeObjects(p)
				}
			}
		case "properties":
			props, _ := v.(map[string]any)
			for _, p := range props {
				closeObjects(p)
			}
		case "items", "additionalProperties":
			closeObjects(v)
		}
	}
}
