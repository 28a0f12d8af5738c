{{/*
Helpers shared by the umbrella chart and its subcharts. Helm keeps named templates in one
namespace for a chart and all its dependencies, so the subcharts call these too: every object
of a release gets its name and labels from the same place. They read only .Release and
.Values.global, which every subchart sees.
*/}}

{{/*
Base name of every object: global.fullnameOverride, else the release name (with
"-thumbnail-generator" appended unless it is already in it). 40 characters leave room for the
longest suffix ("-mongodb-headless") within Kubernetes' 63.
*/}}
{{- define "thumbnail-generator.fullname" -}}
{{- $override := "" -}}
{{- with .Values.global }}{{ $override = .fullnameOverride | default "" }}{{ end -}}
{{- if $override -}}
{{- $override | trunc 40 | trimSuffix "-" -}}
{{- else if contains "thumbnail-generator" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-thumbnail-generator" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's objects: <fullname>-<component>. Takes (dict "ctx" . "component" "api"). */}}
{{- define "thumbnail-generator.componentName" -}}
{{- printf "%s-%s" (include "thumbnail-generator.fullname" .ctx) .component -}}
{{- end -}}

{{/* A string made fit for a label value (image tags may hold ':' or '@'). */}}
{{- define "thumbnail-generator.labelValue" -}}
{{- regexReplaceAll "[^A-Za-z0-9._-]" (toString .) "_" | trunc 63 | trimAll "-_." -}}
{{- end -}}

{{/*
Labels every pod can be selected by. The support bundle script selects the apps with
app.kubernetes.io/instance=<release>,app.kubernetes.io/component=api|worker; the
NetworkPolicies select every component by instance and component.
Takes (dict "ctx" . "component" "api" ["name" "redis"]).
*/}}
{{- define "thumbnail-generator.selectorLabels" -}}
app.kubernetes.io/name: {{ .name | default "thumbnail-generator" }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Standard labels. Takes (dict "ctx" . "component" "api" ["name" "redis"] ["version" "1.0.0"]). */}}
{{- define "thumbnail-generator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "thumbnail-generator.selectorLabels" . }}
app.kubernetes.io/version: {{ include "thumbnail-generator.labelValue" (.version | default .ctx.Chart.AppVersion) | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: thumbnail-generator
{{- end -}}

{{/*
Image reference: [registry/]repository@digest or [registry/]repository:tag, where a non-empty
"registry" replaces the image's own: global.imageRegistry for the api and worker images (where
the operator pushed them), global.bundledImageRegistry for Redis, MongoDB and MinIO (which are
not in the operator's registry unless mirrored there).
Takes (dict "image" .Values.image "registry" .Values.global.imageRegistry "defaultTag" "1.0.0").
*/}}
{{- define "thumbnail-generator.image" -}}
{{- $registry := .registry | default .image.registry | default "" | trimSuffix "/" -}}
{{- $ref := .image.repository -}}
{{- if $registry }}{{ $ref = printf "%s/%s" $registry .image.repository }}{{ end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (.image.tag | default .defaultTag | toString) -}}
{{- end -}}
{{- end -}}

{{/* imagePullSecrets from global.imagePullSecrets (renders nothing when there are none). */}}
{{- define "thumbnail-generator.imagePullSecrets" -}}
{{- with .Values.global.imagePullSecrets -}}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* ServiceAccount name of a component. Takes (dict "ctx" . "component" "api" "serviceAccount" .Values.serviceAccount). */}}
{{- define "thumbnail-generator.serviceAccountName" -}}
{{- if .serviceAccount.create -}}
{{- .serviceAccount.name | default (include "thumbnail-generator.componentName" .) -}}
{{- else -}}
{{- .serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/*
A value as an environment variable's text. Helm reads numbers in values files as float64, and
Go would print 20971520 as "2.097152e+07"; whole numbers are printed as integers here.
*/}}
{{- define "thumbnail-generator.envValue" -}}
{{- if kindIs "float64" . -}}
{{- if eq . (floor .) }}{{ printf "%d" (int64 .) }}{{ else }}{{ . }}{{ end -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/*
A generated credential that survives upgrades: the given value if any, else the value already
in the release's Secret (lookup), else a new random one. lookup sees nothing under
`helm template` and dry runs, so those show a fresh value.
Takes (dict "ctx" . "secret" "<name>" "key" "<key>" "value" .Values.auth.password ["length" 32]).
*/}}
{{- define "thumbnail-generator.secretValue" -}}
{{- if .value -}}
{{- .value -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .secret | default dict -}}
{{- $current := dig "data" .key "" $existing -}}
{{- if $current -}}
{{- $current | b64dec -}}
{{- else -}}
{{- randAlphaNum (.length | default 32) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Data volume of a bundled service's StatefulSet: a volumeClaimTemplate named "data", or nothing
when persistence is off (the pod template then declares an emptyDir "data").
Takes (dict "ctx" . "persistence" .Values.persistence "component" "redis" "name" "redis").
*/}}
{{- define "thumbnail-generator.volumeClaimTemplates" -}}
{{- if .persistence.enabled }}
volumeClaimTemplates:
  - apiVersion: v1
    kind: PersistentVolumeClaim
    metadata:
      name: data
      labels:
        {{- include "thumbnail-generator.selectorLabels" . | nindent 8 }}
    spec:
      accessModes:
        {{- toYaml .persistence.accessModes | nindent 8 }}
      {{- with (.persistence.storageClass | default .ctx.Values.global.storageClass) }}
      storageClassName: {{ if eq . "-" }}""{{ else }}{{ . | quote }}{{ end }}
      {{- end }}
      resources:
        requests:
          storage: {{ .persistence.size | quote }}
{{- end }}
{{- end -}}
