package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNativePoliciesCommand(t *testing.T) {
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := execute(context.Background(), newRootCommand(buildInfo{}), args, &out, &errOut)
		return code, out.String(), errOut.String()
	}

	code, out, _ := run("native-policies")
	require.Equal(t, exitOK, code)
	assert.Equal(t, 7, strings.Count(out, "\n---\n"), "8 YAML documents")
	for _, name := range []string{"seccomp-guard-default", "seccomp-guard-enforce", "seccomp-guard-warn", "seccomp-guard-audit"} {
		assert.Contains(t, out, "name: "+name+"\n")
	}

	code, out, _ = run("native-policies", "--name-prefix", "rel", "-o", "json")
	require.Equal(t, exitOK, code)
	var list struct {
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	var names []string
	for _, it := range list.Items {
		names = append(names, it.Kind+"/"+it.Metadata.Name)
	}
	assert.Equal(t, []string{
		"MutatingAdmissionPolicy/rel-default", "MutatingAdmissionPolicyBinding/rel-default",
		"ValidatingAdmissionPolicy/rel-enforce", "ValidatingAdmissionPolicy/rel-warn", "ValidatingAdmissionPolicy/rel-audit",
		"ValidatingAdmissionPolicyBinding/rel-enforce", "ValidatingAdmissionPolicyBinding/rel-warn", "ValidatingAdmissionPolicyBinding/rel-audit",
	}, names)

	code, _, errOut := run("native-policies", "-o", "text")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `unknown output format "text"`)
}
