{{/*
Names. The full name is the release name when it already contains the chart
name ("seccomp-guard"), else "<release>-seccomp-guard"; every object is named
after it, with a component suffix where there is more than one of a kind.
*/}}
{{- define "seccomp-guard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "seccomp-guard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "seccomp-guard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The webhook's Deployment, Service and ServiceAccount. */}}
{{- define "seccomp-guard.webhook.name" -}}
{{- printf "%s-webhook" (include "seccomp-guard.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The reporter's Deployment, ServiceAccount and RBAC. */}}
{{- define "seccomp-guard.reporter.name" -}}
{{- printf "%s-reporter" (include "seccomp-guard.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The agent's DaemonSet (its ServiceAccount is agent.serviceAccount.name). */}}
{{- define "seccomp-guard.agent.name" -}}
{{- printf "%s-agent" (include "seccomp-guard.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Labels: include with (dict "ctx" $ "component" "webhook").
*/}}
{{- define "seccomp-guard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "seccomp-guard.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "seccomp-guard.labels" -}}
{{ include "seccomp-guard.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: seccomp-guard
helm.sh/chart: {{ include "seccomp-guard.chart" .ctx }}
{{- end -}}

{{- define "seccomp-guard.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}

{{/* The Secret with the webhook's serving certificate (tls.crt, tls.key). */}}
{{- define "seccomp-guard.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "secret" -}}
{{- .Values.certificates.secret.name -}}
{{- else -}}
{{- printf "%s-webhook-tls" (include "seccomp-guard.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
Annotations of both webhook configurations: cert-manager's cainjector writes
the CA of the serving Certificate into their caBundle.
*/}}
{{- define "seccomp-guard.webhookConfigAnnotations" -}}
{{- if eq .Values.certificates.mode "cert-manager" -}}
annotations:
  cert-manager.io/inject-ca-from: {{ printf "%s/%s-webhook-tls" .Release.Namespace (include "seccomp-guard.fullname" .) }}
{{- end -}}
{{- end -}}

{{/* clientConfig of a webhook: include with (dict "ctx" $ "path" "/mutate"). */}}
{{- define "seccomp-guard.clientConfig" -}}
clientConfig:
  service:
    name: {{ include "seccomp-guard.webhook.name" .ctx }}
    namespace: {{ .ctx.Release.Namespace }}
    path: {{ .path }}
    port: 443
  {{- if eq .ctx.Values.certificates.mode "secret" }}
  caBundle: {{ .ctx.Values.certificates.secret.caBundle | b64enc }}
  {{- end }}
{{- end -}}

{{/*
Which namespaces the webhooks see. kube-system, kube-node-lease and the
release namespace are always left out, so that the cluster and seccomp-guard
itself can recover while the webhook is down. Opt-in selects every namespace
that has the mode label, whatever its value, except disabled: a value that is
not a mode (a typo such as Enforce or enforced) reaches the engine, whose
rule for it applies (policy/mode.go: enforced, with a warning) instead of
silently escaping. The webhook configurations and the native policies'
bindings share this selector.
*/}}
{{- define "seccomp-guard.namespaceSelector" -}}
namespaceSelector:
  matchExpressions:
  {{- if eq .Values.mode "opt-in" }}
  - key: seccomp-guard.io/mode
    operator: Exists
  - key: seccomp-guard.io/mode
    operator: NotIn
    values: [disabled]
  {{- else }}
  - key: seccomp-guard.io/mode
    operator: NotIn
    values: [disabled]
  {{- end }}
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
    {{- range (include "seccomp-guard.excludedNamespaces" . | splitList ",") }}
    - {{ . | quote }}
    {{- end }}
{{- end -}}

{{/*
The defaultMode of the installed mode: policy.spec.defaultMode when set, else
disabled for opt-in and enforce for cluster-wide. The policy object carries
it, and the webhook serves it (--fallback-default-mode) while that object is
missing, so deleting the policy does not stop enforcement.
*/}}
{{- define "seccomp-guard.defaultMode" -}}
{{- .Values.policy.spec.defaultMode | default (ternary "disabled" "enforce" (eq .Values.mode "opt-in")) -}}
{{- end -}}

{{/*
GOMEMLIMIT of the webhook: 90% of webhook.resources.limits.memory when that
is a whole number of Mi or Gi, else nothing (no GOMEMLIMIT).
*/}}
{{- define "seccomp-guard.webhook.goMemLimit" -}}
{{- include "seccomp-guard.goMemLimit" .Values.webhook.resources -}}
{{- end -}}

{{/*
GOMEMLIMIT for a container's resources (include with them, e.g.
.Values.reporter.resources): 90% of limits.memory when that is a whole
number of Mi or Gi, else nothing.
*/}}
{{- define "seccomp-guard.goMemLimit" -}}
{{- $limit := toString (dig "limits" "memory" "" (. | default dict)) -}}
{{- if regexMatch "^[0-9]+Mi$" $limit -}}
{{- div (mul (trimSuffix "Mi" $limit | int64) 9) 10 }}MiB
{{- else if regexMatch "^[0-9]+Gi$" $limit -}}
{{- div (mul (trimSuffix "Gi" $limit | int64) 9216) 10 }}MiB
{{- end -}}
{{- end -}}

{{/*
The API group and resources of the reports the reporter writes, by
reporter.format: OpenReports (openreports.io Report and ClusterReport) or
the older wgpolicyk8s.io PolicyReport and ClusterPolicyReport.
*/}}
{{- define "seccomp-guard.reporter.reportGroup" -}}
{{- ternary "wgpolicyk8s.io" "openreports.io" (eq .Values.reporter.format "wgpolicyk8s") -}}
{{- end -}}

{{- define "seccomp-guard.reporter.reportResources" -}}
{{- if eq .Values.reporter.format "wgpolicyk8s" -}}
["policyreports", "clusterpolicyreports"]
{{- else -}}
["reports", "clusterreports"]
{{- end -}}
{{- end -}}

{{/*
The namespaces the webhook configurations never send, comma-separated:
kube-system, kube-node-lease, the release namespace and excludedNamespaces.
The namespace selector and the reporter (which reports nothing there) both
read this one list.
*/}}
{{- define "seccomp-guard.excludedNamespaces" -}}
{{- concat (list "kube-system" "kube-node-lease" .Release.Namespace) .Values.excludedNamespaces | uniq | join "," -}}
{{- end -}}

{{/*
Seconds in a Go duration ("5m", "1h30m", "90s"): the chart's duration values
as numbers that PromQL compares with.
*/}}
{{- define "seccomp-guard.seconds" -}}
{{- $units := dict "ns" 0.000000001 "us" 0.000001 "µs" 0.000001 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h)" (toString .) -1 -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" . -}}
{{- $unit := trimPrefix $number . -}}
{{- $total = addf $total (mulf (float64 $number) (get $units $unit)) -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/* The headless Service over the agents' metrics ports (its name is the Prometheus job of the agents). */}}
{{- define "seccomp-guard.agent.metricsName" -}}
{{- printf "%s-agent-metrics" (include "seccomp-guard.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
