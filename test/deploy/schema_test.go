package deploy

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestHelmSamplingSchema: the chart's schema for `sampling` has exactly the
// keys of the mesh processor's sampling.Config (read from
// processor/meshprocessor/internal/sampling/config.go with go/parser), with matching
// JSON types, so that helm refuses a misspelt key or a duration without a
// unit at install and accepts every key the processor takes.
func TestHelmSamplingSchema(t *testing.T) {
	const source = "processor/meshprocessor/internal/sampling/config.go"
	f, err := parser.ParseFile(token.NewFileSet(), source, readRepoFile(t, source), 0)
	if err != nil {
		t.Fatal(err)
	}
	structs := map[string]*ast.StructType{}
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok {
			if st, ok := ts.Type.(*ast.StructType); ok {
				structs[ts.Name.Name] = st
			}
		}
		return true
	})
	if structs["Config"] == nil {
		t.Fatalf("%s: no Config struct", source)
	}

	var schema map[string]any
	if err := json.Unmarshal(readRepoFile(t, chartDir+"/values.schema.json"), &schema); err != nil {
		t.Fatal(err)
	}
	defs, _ := schema["definitions"].(map[string]any)
	resolve := func(s any) (map[string]any, string) {
		m, _ := s.(map[string]any)
		ref, _ := m["$ref"].(string)
		if ref == "" {
			return m, ""
		}
		name := strings.TrimPrefix(ref, "#/definitions/")
		d, _ := defs[name].(map[string]any)
		return d, name
	}

	var compare func(path string, typ ast.Expr, s any)
	compare = func(path string, typ ast.Expr, raw any) {
		s, def := resolve(raw)
		if s == nil {
			t.Errorf("schema %s: missing (the processor has it)", path)
			return
		}
		wantType := func(want string) {
			if s["type"] != want {
				t.Errorf("schema %s: type %v, the processor's field wants %s", path, s["type"], want)
			}
		}
		switch tt := typ.(type) {
		case *ast.StarExpr:
			compare(path, tt.X, raw)
		case *ast.ArrayType:
			wantType("array")
			compare(path+"[]", tt.Elt, s["items"])
		case *ast.MapType:
			wantType("object")
			compare(path+".*", tt.Value, s["additionalProperties"])
		case *ast.SelectorExpr:
			if x, _ := tt.X.(*ast.Ident); x == nil || x.Name != "time" || tt.Sel.Name != "Duration" {
				t.Errorf("%s: %s has a type these tests do not know", source, path)
			} else if def != "duration" {
				t.Errorf("schema %s: want {\"$ref\": \"#/definitions/duration\"} for a time.Duration", path)
			}
		case *ast.Ident:
			switch tt.Name {
			case "bool":
				wantType("boolean")
			case "string":
				wantType("string")
			case "int", "int64":
				wantType("integer")
			case "float64":
				wantType("number")
			default:
				st := structs[tt.Name]
				if st == nil {
					t.Errorf("%s: %s has type %s, which these tests do not know", source, path, tt.Name)
					return
				}
				wantType("object")
				if s["additionalProperties"] != false {
					t.Errorf("schema %s: additionalProperties must be false, so that helm refuses unknown keys", path)
				}
				props, _ := s["properties"].(map[string]any)
				var goKeys []string
				for _, field := range st.Fields.List {
					if field.Tag == nil || len(field.Names) != 1 {
						continue
					}
					tag, _ := strconv.Unquote(field.Tag.Value)
					key, _, _ := strings.Cut(reflect.StructTag(tag).Get("mapstructure"), ",")
					if key == "" || key == "-" {
						continue
					}
					goKeys = append(goKeys, key)
					compare(path+"."+key, field.Type, props[key])
				}
				for key := range props {
					if !slices.Contains(goKeys, key) {
						t.Errorf("schema %s.%s: the processor has no such key", path, key)
					}
				}
			}
		default:
			t.Errorf("%s: %s has a type these tests do not know", source, path)
		}
	}
	props, _ := schema["properties"].(map[string]any)
	compare("sampling", ast.NewIdent("Config"), props["sampling"])
}
