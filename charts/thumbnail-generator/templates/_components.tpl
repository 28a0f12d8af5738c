{{/*
Objects the api and worker subcharts both create, called from their templates with their own
context (.Values = that subchart's values). Takes (dict "ctx" . "component" "api"|"worker").
*/}}

{{/* Labels of an app component's objects (version = the image tag it runs). */}}
{{- define "thumbnail-generator.componentLabels" -}}
{{- $tag := .ctx.Values.image.tag | default .ctx.Values.global.image.tag | default .ctx.Chart.AppVersion -}}
{{- include "thumbnail-generator.labels" (dict "ctx" .ctx "component" .component "version" $tag) -}}
{{- end -}}

{{- define "thumbnail-generator.serviceAccount" -}}
{{- if .ctx.Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "thumbnail-generator.serviceAccountName" (dict "ctx" .ctx "component" .component "serviceAccount" .ctx.Values.serviceAccount) }}
  labels:
    {{- include "thumbnail-generator.componentLabels" . | nindent 4 }}
  {{- with .ctx.Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
# The apps never call the Kubernetes API.
automountServiceAccountToken: false
{{- end }}
{{- end -}}

{{- define "thumbnail-generator.podDisruptionBudget" -}}
{{- $pdb := .ctx.Values.pdb -}}
{{- if $pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "thumbnail-generator.componentName" . }}
  labels:
    {{- include "thumbnail-generator.componentLabels" . | nindent 4 }}
spec:
  {{- if not (kindIs "invalid" $pdb.minAvailable) }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "thumbnail-generator.selectorLabels" . | nindent 6 }}
{{- end }}
{{- end -}}

{{- define "thumbnail-generator.horizontalPodAutoscaler" -}}
{{- $hpa := .ctx.Values.autoscaling -}}
{{- if $hpa.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "thumbnail-generator.componentName" . }}
  labels:
    {{- include "thumbnail-generator.componentLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "thumbnail-generator.componentName" . }}
  minReplicas: {{ $hpa.minReplicas }}
  maxReplicas: {{ $hpa.maxReplicas }}
  metrics:
    {{- with $hpa.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
    {{- with $hpa.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
{{- end }}
{{- end -}}
