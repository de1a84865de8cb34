package native

// The CEL of package native, compiled by the API server's own libraries
// (k8s.io/apiserver, the version of go.mod), in two ways.
//
// TestCELCompiles compiles every expression (the MutatingAdmissionPolicy's
// variables, match conditions and mutations; each ValidatingAdmissionPolicy's
// variables, match conditions, validations, message expressions and audit
// annotations; WebhookMatchConditions) as the API server does when it admits
// and loads the objects (validating/plugin.go, mutating/compilation.go,
// webhook/accessors.go): plugincel's CompositedCompiler (plain Compiler for
// the webhook), the environment of new expressions (environment.NewExpressions)
// at the library's default compatibility version and at 1.35 (which
// libraries a 1.36 API server, the oldest that serves these objects, accepts
// in new expressions). request, namespaceObject and authorizer are typed;
// object, oldObject and params are dyn, as at admission; each
// variables.<name> is typed as its expression's result; the result type of
// each field is enforced (bool for validations and match conditions, string
// for message expressions, list(JSONPatch) for mutations). This catches
// syntax errors, undeclared names, unknown functions, wrong result types,
// type errors among typed values and misspelled variables, but no field name
// read from object, oldObject or params.
//
// TestCELTypeChecksAgainstSchemas type-checks the same expressions with
// object and oldObject typed by the OpenAPI schema of each kind the
// policies match (policy.Kinds: Pod, ReplicationController,
// PodTemplate, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob)
// and params by the ClusterSeccompPolicy CRD's schema, so that a misspelled or
// misplaced field (seccompProfil, spec.template of a Pod, an unknown params
// field) is an error. The schemas are the OpenAPI v3 documents embedded in
// k8s.io/client-go/openapi/openapitest (core/v1, apps/v1, batch/v1 of a
// 1.27-era API server: every pod field this CEL reads is older and unchanged
// since) and charts/seccomp-guard/crds. The API server's own TypeChecker
// (validating/typechecking.go) checks every branch of an expression against
// every kind, so it would reject object.template for a Pod although that
// branch never runs for one, and it types variables that hold objects as
// dyn, so it checks nothing read through variables.spec. Hence, for each
// kind, each expression is first narrowed to what runs for that kind:
// object.kind and oldObject.kind become the kind's name and cel-go's constant
// folding prunes the other kinds' branches; a conditional meaning "this
// object or nothing" ({} or null in a branch) is rewritten so that it keeps
// the object's type (absentAsNull); and a variable whose result is an object
// (spec, oldSpec, podMeta, ps, exempt) is inlined into the expressions after
// it. The result is type-checked in TypeChecker's environment (buildEnvSet,
// mirrored in typedEnvSet with the JSONPatch types of compile.go for
// mutations). The API server's TypeChecker itself also runs over the
// enforce policy and must report nothing (what it would write to the
// policy's status).
//
// Not checked against a schema: request, namespaceObject and authorizer
// (typed by the API server's hand-built types in both tests), map literals
// built in CEL ({'c': ..., 'p': ...}, read as map(string, dyn)), and reads
// that an expression guards by something other than the kind:
// oldObject.spec.ephemeralContainers is read only for the
// pods/ephemeralcontainers subresource, whose objects are Pods; the other
// kinds' errors for it are listed in guardedByRuntime and must stay exactly
// those. TestCELCompileFailures shows that both checks fail on broken
// expressions, with the API server's messages.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/mutating/patch"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/common"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/apiserver/pkg/cel/library"
	"k8s.io/apiserver/pkg/cel/mutation"
	"k8s.io/apiserver/pkg/cel/openapi"
	"k8s.io/apiserver/pkg/cel/openapi/resolver"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clientopenapi "k8s.io/client-go/openapi"
	"k8s.io/client-go/openapi/openapitest"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/yaml"

	"github.com/seccomp-guard/seccomp-guard/api/v1alpha1"
	"github.com/seccomp-guard/seccomp-guard/policy"
)

// celExpr is one CEL expression of an object, with the API server's
// accessor for it (which carries its required result types).
type celExpr struct {
	field    string // where it is, e.g. ValidatingAdmissionPolicy/seccomp-guard-warn spec.validations[0].messageExpression
	accessor plugincel.ExpressionAccessor
}

// celUnit is what the API server compiles together: a policy (variables
// first, then its other expressions) or a webhook's match conditions.
type celUnit struct {
	name       string // Kind/name
	composited bool   // has variables (policies); webhooks have none
	params     bool
	patchTypes bool // mutations: JSONPatch is declared
	match      *admissionregistrationv1.MatchResources
	variables  []celExpr
	exprs      []celExpr
}

func variableExprs(object string, vs []admissionregistrationv1.Variable) []celExpr {
	out := make([]celExpr, 0, len(vs))
	for i, v := range vs {
		out = append(out, celExpr{field: fmt.Sprintf("%s spec.variables[%d] (%s)", object, i, v.Name), accessor: &validating.Variable{Name: v.Name, Expression: v.Expression}})
	}
	return out
}

func matchConditionExprs(field string, mcs []admissionregistrationv1.MatchCondition) []celExpr {
	out := make([]celExpr, 0, len(mcs))
	for i := range mcs {
		out = append(out, celExpr{field: fmt.Sprintf("%s[%d] (%s)", field, i, mcs[i].Name), accessor: (*matchconditions.MatchCondition)(&mcs[i])})
	}
	return out
}

func mutatingUnit(p *admissionregistrationv1.MutatingAdmissionPolicy) celUnit {
	name := "MutatingAdmissionPolicy/" + p.Name
	u := celUnit{name: name, composited: true, params: p.Spec.ParamKind != nil, patchTypes: true,
		match: p.Spec.MatchConstraints, variables: variableExprs(name, p.Spec.Variables)}
	u.exprs = matchConditionExprs(name+" spec.matchConditions", p.Spec.MatchConditions)
	for i, m := range p.Spec.Mutations {
		switch {
		case m.JSONPatch != nil:
			u.exprs = append(u.exprs, celExpr{field: fmt.Sprintf("%s spec.mutations[%d].jsonPatch.expression", name, i), accessor: &patch.JSONPatchCondition{Expression: m.JSONPatch.Expression}})
		case m.ApplyConfiguration != nil:
			u.exprs = append(u.exprs, celExpr{field: fmt.Sprintf("%s spec.mutations[%d].applyConfiguration.expression", name, i), accessor: &patch.ApplyConfigurationCondition{Expression: m.ApplyConfiguration.Expression}})
		}
	}
	return u
}

func validatingUnit(p *admissionregistrationv1.ValidatingAdmissionPolicy) celUnit {
	name := "ValidatingAdmissionPolicy/" + p.Name
	u := celUnit{name: name, composited: true, params: p.Spec.ParamKind != nil,
		match: p.Spec.MatchConstraints, variables: variableExprs(name, p.Spec.Variables)}
	u.exprs = matchConditionExprs(name+" spec.matchConditions", p.Spec.MatchConditions)
	for i, v := range p.Spec.Validations {
		u.exprs = append(u.exprs, celExpr{field: fmt.Sprintf("%s spec.validations[%d].expression", name, i), accessor: &validating.ValidationCondition{Expression: v.Expression}})
		if v.MessageExpression != "" {
			u.exprs = append(u.exprs, celExpr{field: fmt.Sprintf("%s spec.validations[%d].messageExpression", name, i), accessor: &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}})
		}
	}
	for i, a := range p.Spec.AuditAnnotations {
		u.exprs = append(u.exprs, celExpr{field: fmt.Sprintf("%s spec.auditAnnotations[%d].valueExpression", name, i), accessor: &validating.AuditAnnotationCondition{Key: a.Key, ValueExpression: a.ValueExpression}})
	}
	return u
}

// webhookUnit holds WebhookMatchConditions; the webhook matches the same
// objects as the validating policies.
func webhookUnit(match *admissionregistrationv1.MatchResources) celUnit {
	return celUnit{name: "WebhookMatchConditions", match: match,
		exprs: matchConditionExprs("ValidatingWebhookConfiguration webhooks[].matchConditions", WebhookMatchConditions())}
}

// allUnits is every CEL expression of package native.
func allUnits() []celUnit {
	o := Build("")
	var out []celUnit
	for _, p := range o.MutatingPolicies {
		out = append(out, mutatingUnit(p))
	}
	for _, p := range o.ValidatingPolicies {
		out = append(out, validatingUnit(p))
	}
	return append(out, webhookUnit(o.ValidatingPolicies[0].Spec.MatchConstraints))
}

// schemaUnits are allUnits with the validating policies, which share their
// variables, as one unit: the variables are checked once.
func schemaUnits(t *testing.T) []celUnit {
	t.Helper()
	var out []celUnit
	var merged *celUnit
	for _, u := range allUnits() {
		if !strings.HasPrefix(u.name, "ValidatingAdmissionPolicy/") {
			out = append(out, u)
			continue
		}
		if merged == nil {
			out = append(out, u)
			merged = &out[len(out)-1]
			merged.name = "ValidatingAdmissionPolicies"
			continue
		}
		require.Equal(t, len(merged.variables), len(u.variables))
		for i, v := range u.variables {
			require.Equal(t, merged.variables[i].accessor, v.accessor, "%s: the validating policies share their variables", v.field)
		}
		merged.exprs = append(merged.exprs, u.exprs...)
	}
	return out
}

// compileFunc compiles one expression; variables are stored for the
// expressions after them.
type compileFunc func(e celExpr, variable bool) plugincel.CompilationResult

// compileUnit compiles every expression of u and returns one error per
// expression that does not compile, naming the expression.
func compileUnit(u celUnit, compile compileFunc) []error {
	var errs []error
	check := func(e celExpr, variable bool) {
		if r := compile(e, variable); r.Error != nil {
			errs = append(errs, fmt.Errorf("%s: %s", e.field, r.Error.Detail))
		}
	}
	for _, v := range u.variables {
		check(v, true)
	}
	for _, e := range u.exprs {
		check(e, false)
	}
	return errs
}

// admissionCompiler is the API server's compiler for u, as it admits and
// loads the object: dynamic object, oldObject and params.
func admissionCompiler(u celUnit, ver *version.Version) compileFunc {
	base := environment.MustBaseEnvSet(ver)
	opts := plugincel.OptionalVariableDeclarations{HasParams: u.params, HasAuthorizer: true}
	if !u.composited {
		c := plugincel.NewCompiler(base)
		return func(e celExpr, _ bool) plugincel.CompilationResult {
			return c.CompileCELExpression(e.accessor, opts, environment.NewExpressions)
		}
	}
	c, err := plugincel.NewCompositedCompiler(base)
	if err != nil {
		panic(err)
	}
	return func(e celExpr, variable bool) plugincel.CompilationResult {
		if variable {
			return c.CompileAndStoreVariable(e.accessor.(plugincel.NamedExpressionAccessor), opts, environment.NewExpressions)
		}
		o := opts
		_, o.HasPatchTypes = e.accessor.(*patch.JSONPatchCondition)
		if _, ok := e.accessor.(*patch.ApplyConfigurationCondition); ok {
			o.HasPatchTypes = true
		}
		return c.CompileCELExpression(e.accessor, o, environment.NewExpressions)
	}
}

// compatibilityVersions are the CEL environments the expressions must
// compile in: the library's default, and that of a 1.36 API server (its
// compatibility version, 1.35, decides which libraries new expressions may use).
var compatibilityVersions = []*version.Version{environment.DefaultCompatibilityVersion(), version.MajorMinor(1, 35)}

func TestCELCompiles(t *testing.T) {
	units := allUnits()
	count := 0
	for _, u := range units {
		count += len(u.variables) + len(u.exprs)
	}
	// Every field of the rendered objects that holds CEL is compiled.
	data, err := json.Marshal([]any{Build("").List(), WebhookMatchConditions()})
	require.NoError(t, err)
	var rendered any
	require.NoError(t, json.Unmarshal(data, &rendered))
	require.Equal(t, countCELFields(rendered), count, "expressions found")
	require.Greater(t, count, 100)

	for _, ver := range compatibilityVersions {
		t.Run(ver.String(), func(t *testing.T) {
			for _, u := range units {
				assert.Empty(t, compileUnit(u, admissionCompiler(u, ver)), "%s does not compile", u.name)
			}
		})
	}
}

// countCELFields counts the expression, messageExpression and
// valueExpression fields in a JSON value.
func countCELFields(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if _, ok := x.(string); ok && (k == "expression" || k == "messageExpression" || k == "valueExpression") {
				n++
			}
			n += countCELFields(x)
		}
	case []any:
		for _, x := range v {
			n += countCELFields(x)
		}
	}
	return n
}

// TestCELCompileFailures makes sure the compilers of both tests fail on
// broken expressions, with the API server's messages.
func TestCELCompileFailures(t *testing.T) {
	vap := func(mutate func(p *admissionregistrationv1.ValidatingAdmissionPolicy)) celUnit {
		p := Build("").ValidatingPolicies[0].DeepCopy()
		mutate(p)
		return validatingUnit(p)
	}
	mapPolicy := func(mutate func(p *admissionregistrationv1.MutatingAdmissionPolicy)) celUnit {
		p := Build("").MutatingPolicies[0].DeepCopy()
		mutate(p)
		return mutatingUnit(p)
	}
	setVariable := func(vs []admissionregistrationv1.Variable, name, expr string) {
		i := slices.IndexFunc(vs, func(v admissionregistrationv1.Variable) bool { return v.Name == name })
		require.GreaterOrEqual(t, i, 0, name)
		vs[i].Expression = expr
	}
	tests := []struct {
		name string
		unit celUnit
		// want are the errors of the admission compile, then of the schema
		// check for kind Pod (regular expressions, each matching one error).
		wantAdmission []string
		wantSchema    []string
	}{
		{
			name: "a syntax error",
			unit: vap(func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
				p.Spec.Validations[0].Expression = "object.spec."
			}),
			wantAdmission: []string{`^ValidatingAdmissionPolicy/seccomp-guard-enforce spec.validations\[0\].expression: compilation failed: ERROR: <input>:1:13: Syntax error: no viable alternative at input '.'`},
			wantSchema:    []string{`^ValidatingAdmissionPolicy/seccomp-guard-enforce spec.validations\[0\].expression: ERROR: <input>:1:13: Syntax error: no viable alternative at input '.'`},
		},
		{
			name: "an undefined variable",
			unit: vap(func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
				p.Spec.Validations[0].Expression = "size(variables.countd) == 0"
			}),
			wantAdmission: []string{`spec.validations\[0\].expression: compilation failed: ERROR: <input>:1:15: undefined field 'countd'`},
			wantSchema:    []string{`spec.validations\[0\].expression: ERROR: <input>:1:15: undefined field 'countd'`},
		},
		{
			name: "a message expression that is not a string",
			unit: vap(func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
				p.Spec.Validations[0].MessageExpression = "size(variables.counted)"
			}),
			wantAdmission: []string{`spec.validations\[0\].messageExpression: must evaluate to string but got int$`},
			wantSchema:    []string{`spec.validations\[0\].messageExpression: must evaluate to string but got int$`},
		},
		{
			name: "a variable with an unknown function",
			unit: vap(func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
				setVariable(p.Spec.Variables, "dpValue", "variables.nsAnnotations['seccomp-guard.io/default-profile'].strip()")
			}),
			wantAdmission: []string{`spec.variables\[17\] \(dpValue\): compilation failed: ERROR: <input>:1:66: undeclared reference to 'strip'`},
			wantSchema:    []string{`spec.variables\[17\] \(dpValue\): ERROR: <input>:1:66: undeclared reference to 'strip'`},
		},
		{
			name: "a misspelled field of the pod spec: only the schema check sees it",
			unit: vap(func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
				setVariable(p.Spec.Variables, "skip", "has(variables.spec.runtimeClass)")
			}),
			wantSchema: []string{`spec.variables\[\d+\] \(skip\): ERROR: <input>:1:4: undefined field 'runtimeClass'`},
		},
		{
			name: "a field of another kind read without a kind check: only the schema check sees it",
			unit: mapPolicy(func(p *admissionregistrationv1.MutatingAdmissionPolicy) {
				setVariable(p.Spec.Variables, "podMeta", "object.spec.template.metadata")
			}),
			wantSchema: []string{`^MutatingAdmissionPolicy/seccomp-guard-default spec.variables\[\d+\] \(podMeta\): ERROR: <input>:1:12: undefined field 'template'`},
		},
		{
			name: "a misspelled field of a container in a mutation",
			unit: mapPolicy(func(p *admissionregistrationv1.MutatingAdmissionPolicy) {
				p.Spec.Mutations[0].JSONPatch.Expression = `variables.spec.containers.map(c, JSONPatch{op: 'add', path: '/x', value: c.securityContext.seccompProfile.localHostProfile})`
			}),
			wantSchema: []string{`spec.mutations\[0\].jsonPatch.expression: ERROR: <input>:1:\d+: undefined field 'localHostProfile'`},
		},
		{
			name: "a mutation that is not a list of JSONPatch",
			unit: mapPolicy(func(p *admissionregistrationv1.MutatingAdmissionPolicy) {
				p.Spec.Mutations[0].JSONPatch.Expression = `JSONPatch{op: 'add', path: '/x', value: 1}`
			}),
			wantAdmission: []string{`spec.mutations\[0\].jsonPatch.expression: must evaluate to list\(JSONPatch\) but got JSONPatch$`},
			wantSchema:    []string{`spec.mutations\[0\].jsonPatch.expression: must evaluate to list\(JSONPatch\) but got JSONPatch$`},
		},
		{
			name: "a params field not in the CRD: only the schema check sees it",
			unit: vap(func(p *admissionregistrationv1.ValidatingAdmissionPolicy) {
				setVariable(p.Spec.Variables, "ps", "params.spec.exemptons")
			}),
			wantSchema: []string{`spec.variables\[\d+\] \(ps\): ERROR: <input>:1:12: undefined field 'exemptons'`},
		},
		{
			name: "a webhook match condition reading a field the pod spec lacks",
			unit: func() celUnit {
				u := webhookUnit(Build("").ValidatingPolicies[0].Spec.MatchConstraints)
				u.exprs = matchConditionExprs("ValidatingWebhookConfiguration webhooks[].matchConditions", []admissionregistrationv1.MatchCondition{
					{Name: "x", Expression: "object.spec.securityContext.seccompProfile.type == 'Localhost'"},
					{Name: "y", Expression: "object.spec.securityContext.seccompProfile.typ == 'Localhost'"},
				})
				return u
			}(),
			wantSchema: []string{`^ValidatingWebhookConfiguration webhooks\[\]\.matchConditions\[1\] \(y\): ERROR: <input>:1:43: undefined field 'typ'`},
		},
	}
	schemas := newSchemas(t)
	pod := schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assertErrors(t, tc.wantAdmission, compileUnit(tc.unit, admissionCompiler(tc.unit, environment.DefaultCompatibilityVersion())))
			assertErrors(t, tc.wantSchema, schemas.checkKind(t, tc.unit, pod))
		})
	}
}

func assertErrors(t *testing.T, want []string, errs []error) {
	t.Helper()
	if !assert.Len(t, errs, len(want), "errors: %v", errs) {
		return
	}
	for i, w := range want {
		assert.Regexp(t, w, errs[i].Error())
	}
}

// guardedByRuntime are the errors of the schema check that the expression
// rules out at run time by something other than the kind, per kind. Any
// other error fails the test, and so does one of these that goes away (then
// delete it here).
var guardedByRuntime = map[string][]string{}

func init() {
	vars := Build("").ValidatingPolicies[0].Spec.Variables
	i := slices.IndexFunc(vars, func(v admissionregistrationv1.Variable) bool { return v.Name == "oldEphemeral" })
	// variables.ephemeralOnly is true only for the pods/ephemeralcontainers
	// subresource, whose object and oldObject are Pods; the other kinds have
	// no spec.ephemeralContainers, or no spec at all (PodTemplate).
	for _, k := range policy.Kinds() {
		if k.IsPod() {
			continue
		}
		field := "ephemeralContainers"
		if !strings.HasPrefix(k.PodSpecPath, "spec.") {
			field = "spec"
		}
		guardedByRuntime[k.Kind] = []string{
			fmt.Sprintf("ValidatingAdmissionPolicy/seccomp-guard-enforce spec.variables[%d] (oldEphemeral): undefined field '%s'", i, field)}
	}
}

func TestCELTypeChecksAgainstSchemas(t *testing.T) {
	schemas := newSchemas(t)
	units := schemaUnits(t)

	kinds := schemas.matchedKinds(t, units[0].match)
	var supported []schema.GroupVersionKind
	for _, k := range policy.Kinds() {
		supported = append(supported, k.GroupVersionKind)
	}
	assert.ElementsMatch(t, supported, kinds, "the policies match the kinds the engine evaluates")
	for _, u := range units[1:] {
		assert.Equal(t, kinds, schemas.matchedKinds(t, u.match), "%s matches the same kinds", u.name)
	}

	for _, kind := range kinds {
		t.Run(kind.Kind, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, u := range units {
				for _, err := range schemas.checkKind(t, u, kind) {
					got = append(got, firstLine(err.Error()))
				}
			}
			assert.Equal(t, guardedByRuntime[kind.Kind], got)
		})
	}

	// The API server's own check (what it would write to the policy's
	// status), for the enforce policy only: for every expression and kind
	// it builds an environment and recompiles all 30 variables (about 0.2 s
	// here), so enforce's 2 expressions take 3 s and warn's and audit's 32
	// would take a minute; their validations are type-checked above.
	t.Run("the API server's TypeChecker", func(t *testing.T) {
		tc := &validating.TypeChecker{SchemaResolver: schemas, RestMapper: schemas.mapper}
		p := Build("").ValidatingPolicies[0]
		require.Equal(t, "seccomp-guard-enforce", p.Name)
		assert.Empty(t, tc.Check(p), "the type warnings the API server would write to the status of %s", p.Name)
	})
}

// TestKindNarrowing shows what TestCELTypeChecksAgainstSchemas checks for
// one kind: the expression without the branches of the other kinds.
func TestKindNarrowing(t *testing.T) {
	schemas := newSchemas(t)
	tests := []struct {
		kind string
		expr string
		want string
	}{
		{"Pod", podSpecExpr("object"), `!(object == null) ? object.spec : null`},
		{"PodTemplate", podSpecExpr("object"), `!(object == null) ? ((has(object.template) && has(object.template.spec)) ? object.template.spec : null) : null`},
		{"CronJob", podSpecExpr("object"), `!(object == null) ? (has(object.spec.jobTemplate.spec.template.spec) ? object.spec.jobTemplate.spec.template.spec : null) : null`},
		{"Deployment", podSpecExpr("object"), `!(object == null) ? ((has(object.spec.template) && has(object.spec.template.spec)) ? object.spec.template.spec : null) : null`},
		{"Job", podMetaExpr("oldObject"), `!(oldObject == null) ? ((has(oldObject.spec.template) && has(oldObject.spec.template.metadata)) ? oldObject.spec.template.metadata : null) : null`},
		{"Pod", `request.kind.kind == 'Pod'`, `request.kind.kind == "Pod"`},
	}
	for _, tc := range tests {
		t.Run(tc.kind+" "+tc.expr[:min(len(tc.expr), 20)], func(t *testing.T) {
			got, err := schemas.narrow(tc.expr, tc.kind)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	// the position is of the narrowed expression
	return regexp.MustCompile(`ERROR: <input>:\d+:\d+: `).ReplaceAllString(s, "")
}

// schemas resolves the OpenAPI schemas of the built-in kinds (from
// client-go's embedded OpenAPI v3 documents) and of ClusterSeccompPolicy
// (from its CRD), and maps the policies' resources to kinds.
type schemas struct {
	builtin resolver.SchemaResolver
	params  schema.GroupVersionKind
	crd     *spec.Schema
	mapper  meta.RESTMapper

	mu     sync.Mutex
	cached map[schema.GroupVersionKind]*spec.Schema
}

var _ resolver.SchemaResolver = (*schemas)(nil)

// embeddedOpenAPI is a discovery client that serves only the OpenAPI v3
// documents of openapitest.
type embeddedOpenAPI struct{ discovery.DiscoveryInterface }

func (embeddedOpenAPI) OpenAPIV3() clientopenapi.Client { return openapitest.NewEmbeddedFileClient() }

var (
	schemasOnce sync.Once
	sharedSch   *schemas
	schemasErr  error
)

func newSchemas(t *testing.T) *schemas {
	t.Helper()
	schemasOnce.Do(func() { sharedSch, schemasErr = loadSchemas() })
	require.NoError(t, schemasErr)
	return sharedSch
}

func loadSchemas() (*schemas, error) {
	data, err := os.ReadFile("../charts/seccomp-guard/crds/seccomp-guard.io_clusterseccomppolicies.yaml")
	if err != nil {
		return nil, err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		return nil, err
	}
	s := &spec.Schema{}
	for _, v := range crd.Spec.Versions {
		if v.Name != v1alpha1.SchemeGroupVersion.Version {
			continue
		}
		b, err := json.Marshal(v.Schema.OpenAPIV3Schema)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, s); err != nil {
			return nil, err
		}
	}
	if len(s.Properties) == 0 {
		return nil, errors.New("the CRD has no schema for " + v1alpha1.SchemeGroupVersion.String())
	}
	mapper := meta.NewDefaultRESTMapper(nil)
	for gvk := range clientgoscheme.Scheme.AllKnownTypes() {
		if slices.Contains([]string{"", "apps", "batch"}, gvk.Group) && gvk.Version == "v1" && !strings.HasSuffix(gvk.Kind, "List") && !strings.HasSuffix(gvk.Kind, "Options") {
			mapper.Add(gvk, meta.RESTScopeNamespace)
		}
	}
	return &schemas{
		builtin: &resolver.ClientDiscoveryResolver{Discovery: embeddedOpenAPI{}},
		params:  v1alpha1.SchemeGroupVersion.WithKind("ClusterSeccompPolicy"),
		crd:     s,
		mapper:  mapper,
		cached:  map[schema.GroupVersionKind]*spec.Schema{},
	}, nil
}

// ResolveSchema implements resolver.SchemaResolver, caching the parse of the documents.
func (s *schemas) ResolveSchema(gvk schema.GroupVersionKind) (*spec.Schema, error) {
	if gvk == s.params {
		return s.crd, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.cached[gvk]; ok {
		return r, nil
	}
	r, err := s.builtin.ResolveSchema(gvk)
	if err != nil {
		return nil, err
	}
	s.cached[gvk] = r
	return r, nil
}

// matchedKinds resolves the resources of m's rules (not subresources) to kinds.
func (s *schemas) matchedKinds(t *testing.T, m *admissionregistrationv1.MatchResources) []schema.GroupVersionKind {
	t.Helper()
	var out []schema.GroupVersionKind
	for _, r := range m.ResourceRules {
		for _, g := range r.APIGroups {
			for _, v := range r.APIVersions {
				for _, res := range r.Resources {
					if strings.Contains(res, "/") {
						continue
					}
					gvk, err := s.mapper.KindFor(schema.GroupVersionResource{Group: g, Version: v, Resource: res})
					require.NoError(t, err)
					out = append(out, gvk)
				}
			}
		}
	}
	return out
}

func (s *schemas) declType(gvk schema.GroupVersionKind) (*apiservercel.DeclType, error) {
	sch, err := s.ResolveSchema(gvk)
	if err != nil {
		return nil, err
	}
	dt := common.SchemaDeclType(&openapi.Schema{Schema: sch}, true)
	if dt == nil {
		return nil, fmt.Errorf("no CEL type for the schema of %s", gvk)
	}
	return dt.MaybeAssignTypeName(strings.ReplaceAll(gvk.GroupKind().String(), ".", "_")), nil
}

// typedEnvSet is the environment of validating/typechecking.go buildEnvSet
// (object and oldObject typed as object, params as params), with the
// JSONPatch types of compile.go for mutations. A nil object is dynamic.
func typedEnvSet(object, params *apiservercel.DeclType, u celUnit) (*environment.EnvSet, error) {
	requestType := plugincel.BuildRequestType()
	namespaceType := plugincel.BuildNamespaceType()
	decls := []*apiservercel.DeclType{namespaceType, requestType}
	typeOf := func(d *apiservercel.DeclType) *cel.Type {
		if d == nil {
			return cel.DynType
		}
		decls = append(decls, d)
		return d.CelType()
	}
	objectType := typeOf(object)
	opts := []cel.EnvOption{
		cel.Variable(plugincel.NamespaceVarName, namespaceType.CelType()),
		cel.Variable(plugincel.RequestVarName, requestType.CelType()),
		cel.Variable(plugincel.ObjectVarName, objectType),
		cel.Variable(plugincel.OldObjectVarName, objectType),
		cel.Variable(plugincel.AuthorizerVarName, library.AuthorizerType),
		cel.Variable(plugincel.RequestResourceAuthorizerVarName, library.ResourceCheckType),
		cel.EnableMacroCallTracking(), // for the unparsing of the narrowed expressions
	}
	if u.params {
		opts = append(opts, cel.Variable(plugincel.ParamsVarName, typeOf(params)))
	}
	envs, err := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()).Extend(
		environment.VersionedOptions{IntroducedVersion: version.MajorMinor(1, 0), EnvOptions: opts, DeclTypes: decls})
	if err != nil || !u.patchTypes {
		return envs, err
	}
	return envs.Extend(environment.VersionedOptions{IntroducedVersion: version.MajorMinor(1, 0), EnvOptions: []cel.EnvOption{
		common.ResolverEnvOption(&mutation.DynamicTypeResolver{}),
		environment.UnversionedLib(library.JSONPatch),
	}})
}

// envCompiler compiles in env (with the composition's variables when
// composited) and checks the result type as compile.go does.
type envCompiler struct {
	env func() (*cel.Env, error)
}

func (c envCompiler) CompileCELExpression(e plugincel.ExpressionAccessor, _ plugincel.OptionalVariableDeclarations, mode environment.Type) plugincel.CompilationResult {
	fail := func(detail string) plugincel.CompilationResult {
		return plugincel.CompilationResult{ExpressionAccessor: e, Error: &apiservercel.Error{Type: apiservercel.ErrorTypeInvalid, Detail: detail}}
	}
	env, err := c.env()
	if err != nil {
		return fail(err.Error())
	}
	ast, issues := env.Compile(e.GetExpression())
	if issues.Err() != nil {
		return fail(issues.String())
	}
	ok := slices.ContainsFunc(e.ReturnTypes(), func(rt *cel.Type) bool {
		return ast.OutputType().IsExactType(rt) || cel.AnyType.IsExactType(rt)
	})
	if !ok {
		want := e.ReturnTypes()[0].String()
		if n := len(e.ReturnTypes()); n > 1 {
			want = fmt.Sprint("one of ", e.ReturnTypes())
		}
		return fail(fmt.Sprintf("must evaluate to %s but got %v", want, ast.OutputType()))
	}
	return plugincel.CompilationResult{ExpressionAccessor: e, OutputType: ast.OutputType()}
}

// newCompiler returns a compile function over typedEnvSet(object, params, u).
func newCompiler(object, params *apiservercel.DeclType, u celUnit) (compileFunc, func() (*cel.Env, error), error) {
	envs, err := typedEnvSet(object, params, u)
	if err != nil {
		return nil, nil, err
	}
	if !u.composited {
		env := func() (*cel.Env, error) { return envs.Env(environment.StoredExpressions) }
		c := envCompiler{env: env}
		return func(e celExpr, _ bool) plugincel.CompilationResult {
			return c.CompileCELExpression(e.accessor, plugincel.OptionalVariableDeclarations{}, environment.StoredExpressions)
		}, env, nil
	}
	cc, err := plugincel.NewCompositedCompilerForTypeChecking(envs)
	if err != nil {
		return nil, nil, err
	}
	env := func() (*cel.Env, error) { return cc.Env(environment.StoredExpressions) }
	cc.Compiler = envCompiler{env: env}
	return func(e celExpr, variable bool) plugincel.CompilationResult {
		if variable {
			return cc.CompileAndStoreVariable(e.accessor.(plugincel.NamedExpressionAccessor), plugincel.OptionalVariableDeclarations{}, environment.StoredExpressions)
		}
		return cc.CompileCELExpression(e.accessor, plugincel.OptionalVariableDeclarations{}, environment.StoredExpressions)
	}, env, nil
}

// kindRef is object.kind or oldObject.kind.
var kindRef = regexp.MustCompile(`\b(object|oldObject)\.kind\b`)

// folder is cel-go's constant folding, then absentAsNull.
var folder = func() *cel.StaticOptimizer {
	f, err := cel.NewConstantFoldingOptimizer()
	if err != nil {
		panic(err)
	}
	o, err := cel.NewStaticOptimizer(f, absentAsNull{})
	if err != nil {
		panic(err)
	}
	return o
}()

// absentAsNull rewrites the conditionals that stand for "this object, or
// nothing" so that a type checker keeps the object's type: an empty map
// literal {} in a branch becomes null, and c ? null : x becomes
// !c ? x : null (CEL types a conditional by its first branch, and null is
// assignable to an object type, a map literal is not). Only for type
// checking: the rewritten expression never runs.
type absentAsNull struct{}

func (absentAsNull) Optimize(ctx *cel.OptimizerContext, a *ast.AST) *ast.AST {
	isNull := func(e ast.Expr) bool { return e.Kind() == ast.LiteralKind && e.AsLiteral() == types.NullValue }
	isEmptyMap := func(e ast.Expr) bool { return e.Kind() == ast.MapKind && e.AsMap().Size() == 0 }
	for _, e := range ast.MatchDescendants(ast.NavigateAST(a), ast.FunctionMatcher(operators.Conditional)) {
		args := e.AsCall().Args()
		cond, yes, no := args[0], args[1], args[2]
		if isEmptyMap(no) {
			no = ctx.NewLiteral(types.NullValue)
		}
		if isEmptyMap(yes) || isNull(yes) {
			cond, yes, no = ctx.NewCall(operators.LogicalNot, cond), no, ctx.NewLiteral(types.NullValue)
		}
		ctx.UpdateExpr(e, ctx.NewCall(operators.Conditional, cond, yes, no))
	}
	return a
}

// narrowingKind is kind, or otherKind when expr does not name kind: all
// kinds it does not name narrow alike.
func narrowingKind(expr, kind string) string {
	if strings.Contains(expr, "'"+kind+"'") {
		return kind
	}
	return otherKind
}

// otherKind stands for the kinds an expression does not name.
const otherKind = "<another kind>"

// narrowCache holds the narrowed expressions, by expression and narrowing kind.
var narrowCache = &narrowings{m: map[[2]string]string{}}

type narrowings struct {
	mu sync.Mutex
	m  map[[2]string]string
}

func (c *narrowings) get(expr, kind string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.m[[2]string{expr, narrowingKind(expr, kind)}]
	return n, ok
}

func (c *narrowings) put(expr, kind, narrowed string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[[2]string{expr, narrowingKind(expr, kind)}] = narrowed
}

// narrowIn is expr as it runs for objects of kind: object.kind replaced by
// the kind, and the branches that cannot run pruned by constant folding in
// env (where expr must compile).
func narrowIn(env *cel.Env, expr, kind string) (string, error) {
	ast, issues := env.Compile(kindRef.ReplaceAllString(expr, "'"+kind+"'"))
	if issues.Err() != nil {
		return "", issues.Err()
	}
	folded, issues := folder.Optimize(env, ast)
	if issues.Err() != nil {
		return "", issues.Err()
	}
	return cel.AstToString(folded)
}

// narrow narrows expr, which needs nothing but object and oldObject, for kind.
func (s *schemas) narrow(expr, kind string) (string, error) {
	_, env, err := newCompiler(nil, nil, celUnit{})
	if err != nil {
		return "", err
	}
	e, err := env()
	if err != nil {
		return "", err
	}
	return narrowIn(e, expr, kind)
}

// checkKind type-checks every expression of u, narrowed to kind, with
// object and oldObject typed by kind's schema and params by the CRD's.
//
// The API server's composition types a variable that holds an object
// (variables.spec, a PodSpec) as dyn (plugincel's
// convertCelTypeToDeclType), which would leave every field read through it
// unchecked; so such variables are inlined: variables.spec becomes
// (its narrowed expression) in the expressions after it.
func (s *schemas) checkKind(t *testing.T, u celUnit, kind schema.GroupVersionKind) []error {
	t.Helper()
	object, err := s.declType(kind)
	require.NoError(t, err)
	params, err := s.declType(s.params)
	require.NoError(t, err)
	// Narrowing compiles with a dynamic object and params, the variables
	// before it stored; the narrowed expressions compile with the typed ones.
	dynCompile, dynEnv, err := newCompiler(nil, nil, u)
	require.NoError(t, err)
	typedCompile, _, err := newCompiler(object, params, u)
	require.NoError(t, err)
	env, err := dynEnv()
	require.NoError(t, err)
	type inlined struct {
		ref  *regexp.Regexp
		expr string
	}
	var inline []inlined
	var unstored []celExpr // narrowed variables not yet stored for narrowing
	return compileUnit(u, func(e celExpr, variable bool) plugincel.CompilationResult {
		expr := e.accessor.GetExpression()
		for _, in := range inline {
			expr = in.ref.ReplaceAllLiteralString(expr, in.expr)
		}
		narrowed, ok := narrowCache.get(expr, kind.Kind)
		if !ok {
			for _, v := range unstored {
				dynCompile(v, true)
			}
			unstored = nil
			var err error
			narrowed, err = narrowIn(env, expr, narrowingKind(expr, kind.Kind))
			if err != nil {
				narrowed = expr // not compilable: the typed compile says why
			}
			narrowCache.put(expr, kind.Kind, narrowed)
		}
		n := withExpression(e, narrowed)
		if !variable {
			return typedCompile(n, false)
		}
		unstored = append(unstored, n)
		r := typedCompile(n, true)
		if r.Error == nil && r.OutputType.Kind() == types.StructKind {
			name := e.accessor.(plugincel.NamedExpressionAccessor).GetName()
			inline = append(inline, inlined{regexp.MustCompile(`\bvariables\.` + name + `\b`), "(" + narrowed + ")"})
		}
		return r
	})
}

// withExpression is e with another expression.
func withExpression(e celExpr, expr string) celExpr {
	switch a := e.accessor.(type) {
	case *validating.Variable:
		return celExpr{field: e.field, accessor: &validating.Variable{Name: a.Name, Expression: expr}}
	case *validating.ValidationCondition:
		return celExpr{field: e.field, accessor: &validating.ValidationCondition{Expression: expr}}
	case *validating.MessageExpressionCondition:
		return celExpr{field: e.field, accessor: &validating.MessageExpressionCondition{MessageExpression: expr}}
	case *validating.AuditAnnotationCondition:
		return celExpr{field: e.field, accessor: &validating.AuditAnnotationCondition{Key: a.Key, ValueExpression: expr}}
	case *matchconditions.MatchCondition:
		return celExpr{field: e.field, accessor: &matchconditions.MatchCondition{Name: a.Name, Expression: expr}}
	case *patch.JSONPatchCondition:
		return celExpr{field: e.field, accessor: &patch.JSONPatchCondition{Expression: expr}}
	case *patch.ApplyConfigurationCondition:
		return celExpr{field: e.field, accessor: &patch.ApplyConfigurationCondition{Expression: expr}}
	}
	panic(fmt.Sprintf("unknown accessor %T", e.accessor))
}
