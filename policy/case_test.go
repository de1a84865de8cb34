package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
)

// evalCase is one named case of Evaluate, compared on everything a user sees.
type evalCase struct {
	name   string
	policy func(*v1alpha1.ClusterSeccompPolicySpec)
	view   NodeView
	req    Request

	wantMode       v1alpha1.Mode
	wantSkipped    string
	wantPatches    string // JSON of the patch list, "" for none
	wantDefaulted  string
	wantViolations []string
	wantWarnings   []string
	wantAllowed    bool
}

func runCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := compile(t, tc.policy)
			d := Evaluate(p, tc.view, tc.req)
			if tc.wantMode != "" {
				assert.Equal(t, tc.wantMode, d.Mode, "mode")
			}
			assert.Equal(t, tc.wantSkipped, d.Skipped, "skipped")
			assert.Equal(t, tc.wantPatches, patchJSON(t, d.Patches), "patches")
			assert.Equal(t, tc.wantDefaulted, d.Defaulted, "defaulted")
			assert.Equal(t, tc.wantViolations, nilIfEmpty(d.Messages()), "violations")
			assert.Equal(t, tc.wantWarnings, nilIfEmpty(d.Warnings), "warnings")
			assert.Equal(t, tc.wantAllowed, d.Allowed(), "allowed")
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
