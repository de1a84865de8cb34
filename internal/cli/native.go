package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"

	"github.com/seccomp-guard/seccomp-guard/native"
)

// WriteNativePolicies writes the native policies and their bindings as a
// multi-document YAML stream, or with asJSON as one indented v1 List.
func WriteNativePolicies(w io.Writer, objs *native.Objects, asJSON bool) error {
	items := objs.List()
	if asJSON {
		list := map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
		b, err := json.MarshalIndent(list, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	for i, o := range items {
		b, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
