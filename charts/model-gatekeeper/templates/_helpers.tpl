{{/* The objects' base name: "model-gatekeeper" for a release of that name, as deploy/ names them. */}}
{{- define "mg.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mg.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "mg.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "mg.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Every object's labels (deploy/ sets name and part-of the same way). */}}
{{- define "mg.labels" -}}
app.kubernetes.io/name: {{ include "mg.name" . }}
app.kubernetes.io/part-of: model-gatekeeper
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels: the webhook's or the auditor's pods (call with (list . "webhook")). */}}
{{- define "mg.selector" -}}
app.kubernetes.io/name: {{ include "mg.name" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "mg.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "mg.tlsSecret" -}}{{ default (printf "%s-tls" (include "mg.fullname" .)) .Values.tls.secretName }}{{- end -}}
{{- define "mg.auditSecret" -}}{{ default (printf "%s-audit" (include "mg.fullname" .)) .Values.decisionLog.postgresql.existingSecret }}{{- end -}}
{{- define "mg.logKeySecret" -}}{{ default (printf "%s-log-key" (include "mg.fullname" .)) .Values.decisionLog.logKey.existingSecret }}{{- end -}}
{{- define "mg.tokensSecret" -}}{{ default (printf "%s-tokens" (include "mg.fullname" .)) .Values.tokens.existingSecret }}{{- end -}}
{{- define "mg.sqliteClaim" -}}{{ default (printf "%s-decision-log" (include "mg.fullname" .)) .Values.decisionLog.sqlite.persistence.existingClaim }}{{- end -}}

{{/* Where a policy file lives in the chart (a copy of policies/, see deploy/sync-policies.sh). */}}
{{- define "mg.policyFiles" -}}
{{- $files := .Files.Glob "policies/**" -}}
{{- if not $files -}}
{{- fail "charts/model-gatekeeper/policies/ is empty: run deploy/sync-policies.sh, which copies the repository's policies/ into the chart" -}}
{{- end -}}
{{- $paths := list -}}
{{- range $path, $_ := $files -}}{{- $paths = append $paths $path -}}{{- end -}}
{{- toYaml $paths -}}
{{- end -}}

{{/* The serving-kinds table: the policy file with .Values.servingKinds merged over it. */}}
{{- define "mg.servingTable" -}}
{{- $table := fromYaml (.Files.Get "policies/gatekeeper/serving/kinds.yaml") -}}
{{- toYaml (mergeOverwrite $table (deepCopy .Values.servingKinds)) -}}
{{- end -}}

{{- define "mg.matrix" -}}
{{- $matrix := fromYaml (.Files.Get "policies/gatekeeper/matrix/requirements.yaml") -}}
{{- toYaml (mergeOverwrite $matrix (deepCopy .Values.matrix)) -}}
{{- end -}}

{{/* The table's kinds whose judgement covers what they control (owner confirmation, README
"Owners"): rows that make objects from a template or serve a model, and the owner-only rows. */}}
{{- define "mg.ownerRows" -}}
{{- $table := fromYaml (include "mg.servingTable" .) -}}
{{- $rows := list -}}
{{- range $table.kinds -}}
{{- if or .template (eq (default "always" .serves) "always") -}}{{- $rows = append $rows . -}}{{- end -}}
{{- end -}}
{{- range $table.owners -}}{{- $rows = append $rows . -}}{{- end -}}
{{- toYaml (dict "rows" $rows) -}}
{{- end -}}

{{/* Pod and container security, as deploy/ sets it (Pod Security "restricted"). */}}
{{- define "mg.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}
{{- define "mg.containerSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The policies volume: each ConfigMap key back at its path under /policies. */}}
{{- define "mg.policiesVolume" -}}
- name: policies
  configMap:
    name: {{ include "mg.fullname" . }}-policies
    items:
{{- range fromYamlArray (include "mg.policyFiles" .) }}
      - key: {{ trimPrefix "policies/" . | replace "/" "." }}
        path: {{ trimPrefix "policies/" . }}
{{- end }}
{{- end -}}

{{/* The egress every pod of the chart needs: DNS and the Kubernetes API. */}}
{{- define "mg.baseEgress" -}}
# DNS: the cluster resolver (CoreDNS / kube-dns) in kube-system.
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
# Kubernetes API: the `kubernetes` Service port and the usual endpoint port.
- ports:
    - protocol: TCP
      port: 443
    - protocol: TCP
      port: 6443
{{- if eq .Values.decisionLog.backend "postgresql" }}
# PostgreSQL decision log.
- ports:
    - protocol: TCP
      port: 5432
{{- end }}
{{- with .Values.networkPolicy.extraEgress }}
{{ toYaml . }}
{{- end }}
{{- end -}}
