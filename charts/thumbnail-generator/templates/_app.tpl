{{/*
The apps' configuration, built from the umbrella's values (all of these take the root context).
*/}}

{{/*
Variables the chart sets itself, with the value to use instead; global.env, api.env and
worker.env may not set them (a second definition would silently win or lose).
*/}}
{{- define "thumbnail-generator.reservedEnv" -}}
REDIS_URL: redis.* or externalRedis.*
REDIS_PASSWORD: redis.auth.password
MONGO_URL: mongodb.* or externalMongodb.*
MONGO_PASSWORD: mongodb.auth.password
JOB_STORE: jobStore
STORAGE_DRIVER: storage.driver
STORAGE_DIR: storage.fs.existingClaim
S3_ENDPOINT: minio.* or externalS3.endpoint
S3_PUBLIC_ENDPOINT: storage.publicEndpoint
S3_REGION: externalS3.region
S3_BUCKET: minio.bucket or externalS3.bucket
S3_ACCESS_KEY_ID: minio.auth or externalS3.accessKeyId / externalS3.existingSecret
S3_SECRET_ACCESS_KEY: minio.auth or externalS3.secretAccessKey / externalS3.existingSecret
S3_FORCE_PATH_STYLE: externalS3.forcePathStyle
S3_SSE: externalS3.sse
S3_CREATE_BUCKET: externalS3.createBucket
PRESIGN_TTL_SECONDS: storage.presignTtlSeconds
PORT: api.containerPort
WORKER_PORT: worker.containerPort
WORKER_CONCURRENCY: worker.concurrency
PUBLIC_URL: api.publicUrl
API_KEYS_FILE: api.apiKeys.existingSecret or api.apiKeys.generate
TRUST_PROXY: api.trustProxy
LOG_LEVEL: config.logLevel
SHUTDOWN_TIMEOUT_MS: config.shutdownTimeoutMs
MAX_UPLOAD_BYTES: config.maxUploadBytes
JOB_RETENTION_DAYS: config.jobRetentionDays
THUMBNAIL_PRESETS: config.thumbnailPresets
MAX_VARIANTS_PER_JOB: config.maxVariantsPerJob
WEBHOOK_SECRET: webhooks.secret or webhooks.existingSecret
WEBHOOK_URL: webhooks.url
WEBHOOK_ALLOWED_HOSTS: webhooks.allowedHosts
{{- end -}}

{{/*
Refuses impossible combinations with a message that says what to set. values.schema.json
catches most of them first; these stay for `--skip-schema-validation` and for what a schema
cannot say.
*/}}
{{- define "thumbnail-generator.validate" -}}
{{- $v := .Values -}}
{{- if not $v.redis.enabled -}}
  {{- if not (or $v.externalRedis.url $v.externalRedis.existingSecret) -}}
    {{- fail "\n\nredis.enabled=false needs your own Redis: set externalRedis.url (redis://[:password@]host:6379/0) or externalRedis.existingSecret (a Secret whose key externalRedis.existingSecretKey holds that URL)." -}}
  {{- end -}}
  {{- if and $v.externalRedis.url $v.externalRedis.existingSecret -}}
    {{- fail "\n\nSet externalRedis.url or externalRedis.existingSecret, not both." -}}
  {{- end -}}
{{- end -}}
{{- if and (eq $v.jobStore "mongo") (not $v.mongodb.enabled) -}}
  {{- if not (or $v.externalMongodb.url $v.externalMongodb.existingSecret) -}}
    {{- fail "\n\nmongodb.enabled=false with jobStore=mongo needs your own MongoDB: set externalMongodb.url (mongodb://user:password@host:27017/thumbnails) or externalMongodb.existingSecret, or set jobStore=redis." -}}
  {{- end -}}
  {{- if and $v.externalMongodb.url $v.externalMongodb.existingSecret -}}
    {{- fail "\n\nSet externalMongodb.url or externalMongodb.existingSecret, not both." -}}
  {{- end -}}
{{- end -}}
{{- if and (eq $v.storage.driver "s3") (not $v.minio.enabled) -}}
  {{- $s3 := $v.externalS3 -}}
  {{- if not $s3.endpoint -}}
    {{- fail "\n\nminio.enabled=false with storage.driver=s3 needs your own S3: set externalS3.endpoint (https://s3.example.com), externalS3.bucket and credentials." -}}
  {{- end -}}
  {{- if not $s3.bucket -}}
    {{- fail "\n\nexternalS3.bucket is empty: name the bucket the apps should use." -}}
  {{- end -}}
  {{- if $s3.existingSecret -}}
    {{- if or $s3.accessKeyId $s3.secretAccessKey -}}
      {{- fail "\n\nSet externalS3.existingSecret or externalS3.accessKeyId/secretAccessKey, not both." -}}
    {{- end -}}
  {{- else if not (and $s3.accessKeyId $s3.secretAccessKey) -}}
    {{- fail "\n\nexternalS3 needs credentials: externalS3.accessKeyId and externalS3.secretAccessKey, or externalS3.existingSecret (keys externalS3.accessKeyIdKey and externalS3.secretAccessKeyKey)." -}}
  {{- end -}}
{{- end -}}
{{- if and (eq $v.storage.driver "fs") (not $v.storage.fs.existingClaim) -}}
  {{- fail "\n\nstorage.driver=fs needs storage.fs.existingClaim: a ReadWriteMany PersistentVolumeClaim that the API and the worker both mount. Use storage.driver=s3 otherwise." -}}
{{- end -}}
{{- $reserved := include "thumbnail-generator.reservedEnv" . | fromYaml -}}
{{- range $source := list "global" "api" "worker" -}}
  {{- range $name, $_ := (index $v $source).env -}}
    {{- if hasKey $reserved $name -}}
      {{- fail (printf "\n\n%s.env.%s is set by the chart; use %s instead." $source $name (get $reserved $name)) -}}
    {{- end -}}
  {{- end -}}
{{- end -}}
{{- $wh := $v.webhooks -}}
{{- if and $wh.secret $wh.existingSecret -}}
  {{- fail "\n\nSet webhooks.secret or webhooks.existingSecret, not both." -}}
{{- end -}}
{{- if and $wh.url (not (or $wh.secret $wh.existingSecret)) -}}
  {{- fail "\n\nwebhooks.url needs a signing secret: set webhooks.secret (whsec_ + base64 of 24 to 64 random bytes) or webhooks.existingSecret." -}}
{{- end -}}
{{- if and (or $wh.secret $wh.existingSecret) (not $v.api.publicUrl) (not (and (eq $v.storage.driver "s3") $v.storage.publicEndpoint)) -}}
  {{- fail "\n\nWebhooks carry each job's thumbnailLink, which the worker builds from api.publicUrl: set api.publicUrl (or storage.publicEndpoint with storage.driver s3)." -}}
{{- end -}}
{{- range $component := list "api" "worker" -}}
  {{- $grace := (index $v $component).terminationGracePeriodSeconds -}}
  {{- if and $grace (le (mul (int64 $grace) 1000) (int64 $v.config.shutdownTimeoutMs)) -}}
    {{- fail (printf "\n\n%s.terminationGracePeriodSeconds (%v s) must be longer than config.shutdownTimeoutMs (%v ms), or Kubernetes kills pods while they drain." $component $grace (include "thumbnail-generator.envValue" $v.config.shutdownTimeoutMs)) -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{/* Non-secret settings of both apps, as ConfigMap data. Empty settings are left out: the apps treat a set-but-empty URL as invalid. */}}
{{- define "thumbnail-generator.appConfig" -}}
{{- $v := .Values -}}
{{- $fullname := include "thumbnail-generator.fullname" . -}}
LOG_LEVEL: {{ $v.config.logLevel | quote }}
SHUTDOWN_TIMEOUT_MS: {{ include "thumbnail-generator.envValue" $v.config.shutdownTimeoutMs | quote }}
MAX_UPLOAD_BYTES: {{ include "thumbnail-generator.envValue" $v.config.maxUploadBytes | quote }}
JOB_RETENTION_DAYS: {{ include "thumbnail-generator.envValue" $v.config.jobRetentionDays | quote }}
MAX_VARIANTS_PER_JOB: {{ include "thumbnail-generator.envValue" $v.config.maxVariantsPerJob | quote }}
{{- with $v.config.thumbnailPresets }}
THUMBNAIL_PRESETS: {{ toJson . | quote }}
{{- end }}
JOB_STORE: {{ $v.jobStore | quote }}
STORAGE_DRIVER: {{ $v.storage.driver | quote }}
{{- if eq $v.storage.driver "s3" }}
{{- if $v.minio.enabled }}
S3_ENDPOINT: {{ printf "http://%s-minio:9000" $fullname | quote }}
S3_REGION: "us-east-1"
S3_BUCKET: {{ $v.minio.bucket | quote }}
S3_FORCE_PATH_STYLE: "true"
S3_CREATE_BUCKET: "true"
{{- else }}
S3_ENDPOINT: {{ $v.externalS3.endpoint | quote }}
S3_REGION: {{ $v.externalS3.region | quote }}
S3_BUCKET: {{ $v.externalS3.bucket | quote }}
S3_FORCE_PATH_STYLE: {{ $v.externalS3.forcePathStyle | toString | quote }}
S3_CREATE_BUCKET: {{ $v.externalS3.createBucket | toString | quote }}
{{- with $v.externalS3.sse }}
S3_SSE: {{ . | quote }}
{{- end }}
{{- end }}
{{- with $v.storage.publicEndpoint }}
S3_PUBLIC_ENDPOINT: {{ . | quote }}
{{- end }}
PRESIGN_TTL_SECONDS: {{ include "thumbnail-generator.envValue" $v.storage.presignTtlSeconds | quote }}
{{- else }}
STORAGE_DIR: "/data/files"
{{- end }}
{{- with $v.webhooks.url }}
WEBHOOK_URL: {{ . | quote }}
{{- end }}
{{- with $v.webhooks.allowedHosts }}
WEBHOOK_ALLOWED_HOSTS: {{ join "," . | quote }}
{{- end }}
{{- range $name, $value := $v.global.env }}
{{ $name }}: {{ include "thumbnail-generator.envValue" $value | quote }}
{{- end }}
{{- end -}}

{{/* Credentials given literally for external services, as Secret data (empty when there are none). */}}
{{- define "thumbnail-generator.externalSecretData" -}}
{{- $v := .Values -}}
{{- if and (not $v.redis.enabled) $v.externalRedis.url }}
REDIS_URL: {{ $v.externalRedis.url | quote }}
{{- end }}
{{- if and (eq $v.jobStore "mongo") (not $v.mongodb.enabled) $v.externalMongodb.url }}
MONGO_URL: {{ $v.externalMongodb.url | quote }}
{{- end }}
{{- if and (eq $v.storage.driver "s3") (not $v.minio.enabled) (not $v.externalS3.existingSecret) $v.externalS3.accessKeyId }}
S3_ACCESS_KEY_ID: {{ $v.externalS3.accessKeyId | quote }}
S3_SECRET_ACCESS_KEY: {{ $v.externalS3.secretAccessKey | quote }}
{{- end }}
{{- if and $v.webhooks.secret (not $v.webhooks.existingSecret) }}
WEBHOOK_SECRET: {{ $v.webhooks.secret | quote }}
{{- end }}
{{- end -}}

{{/* One env entry read from a Secret. Takes (dict "env" "REDIS_URL" "secret" "<name>" "key" "<key>"). */}}
{{- define "thumbnail-generator.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret | quote }}
      key: {{ .key | quote }}
{{- end -}}

{{/*
REDIS_URL, MONGO_URL and the S3 keys as env entries. Bundled services' passwords are read from
their subcharts' Secrets and put into the URLs by Kubernetes' $(VAR) expansion, so each
password exists in exactly one Secret.
*/}}
{{- define "thumbnail-generator.connectionEnv" -}}
{{- $v := .Values -}}
{{- $fullname := include "thumbnail-generator.fullname" . -}}
{{- $external := printf "%s-external" $fullname -}}
{{- if $v.redis.enabled }}
{{- if $v.redis.auth.enabled }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "REDIS_PASSWORD" "secret" (printf "%s-redis" $fullname) "key" "redis-password") }}
- name: REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s-redis:6379/0" $fullname | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ printf "redis://%s-redis:6379/0" $fullname | quote }}
{{- end }}
{{- else if $v.externalRedis.existingSecret }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "REDIS_URL" "secret" $v.externalRedis.existingSecret "key" $v.externalRedis.existingSecretKey) }}
{{- else }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "REDIS_URL" "secret" $external "key" "REDIS_URL") }}
{{- end }}
{{- if eq $v.jobStore "mongo" }}
{{- if $v.mongodb.enabled }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "MONGO_PASSWORD" "secret" (printf "%s-mongodb" $fullname) "key" "mongodb-password") }}
- name: MONGO_URL
  value: {{ printf "mongodb://%s:$(MONGO_PASSWORD)@%s-mongodb:27017/%s?authSource=%s" $v.mongodb.auth.username $fullname $v.mongodb.auth.database $v.mongodb.auth.database | quote }}
{{- else if $v.externalMongodb.existingSecret }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "MONGO_URL" "secret" $v.externalMongodb.existingSecret "key" $v.externalMongodb.existingSecretKey) }}
{{- else }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "MONGO_URL" "secret" $external "key" "MONGO_URL") }}
{{- end }}
{{- end }}
{{- if eq $v.storage.driver "s3" }}
{{- if $v.minio.enabled }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "S3_ACCESS_KEY_ID" "secret" (printf "%s-minio" $fullname) "key" "root-user") }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "S3_SECRET_ACCESS_KEY" "secret" (printf "%s-minio" $fullname) "key" "root-password") }}
{{- else if $v.externalS3.existingSecret }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "S3_ACCESS_KEY_ID" "secret" $v.externalS3.existingSecret "key" $v.externalS3.accessKeyIdKey) }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "S3_SECRET_ACCESS_KEY" "secret" $v.externalS3.existingSecret "key" $v.externalS3.secretAccessKeyKey) }}
{{- else }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "S3_ACCESS_KEY_ID" "secret" $external "key" "S3_ACCESS_KEY_ID") }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "S3_SECRET_ACCESS_KEY" "secret" $external "key" "S3_SECRET_ACCESS_KEY") }}
{{- end }}
{{- end }}
{{- if $v.webhooks.existingSecret }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "WEBHOOK_SECRET" "secret" $v.webhooks.existingSecret "key" $v.webhooks.existingSecretKey) }}
{{- else if $v.webhooks.secret }}
{{ include "thumbnail-generator.secretEnv" (dict "env" "WEBHOOK_SECRET" "secret" $external "key" "WEBHOOK_SECRET") }}
{{- end }}
{{- end -}}

{{/*
Where the API reads the digests of its accepted keys, as YAML: the Secret (`secret`), its entry
(`entry`), and whether the chart generated it (`generated`); empty when API keys are off.
Takes the root context.
*/}}
{{- define "thumbnail-generator.apiKeys" -}}
{{- $keys := .Values.api.apiKeys -}}
{{- if $keys.existingSecret -}}
secret: {{ $keys.existingSecret | quote }}
entry: {{ $keys.key | quote }}
{{- else if $keys.generate -}}
secret: {{ printf "%s-api-key" (include "thumbnail-generator.fullname" .) | quote }}
entry: api-keys
generated: true
{{- end -}}
{{- end -}}

{{/*
Deployment of one app component, with that component's subchart values (.Values.api or
.Values.worker hold the subchart's defaults merged with what was set here).
Takes (dict "root" . "component" "api"|"worker").
*/}}
{{- define "thumbnail-generator.appDeployment" -}}
{{- $root := .root -}}
{{- $component := .component -}}
{{- $c := index $root.Values $component -}}
{{- $fullname := include "thumbnail-generator.fullname" $root -}}
{{- $tag := $c.image.tag | default $root.Values.global.image.tag | default $root.Chart.AppVersion | toString -}}
{{- $labelCtx := dict "ctx" $root "component" $component "version" $tag -}}
{{- $grace := $c.terminationGracePeriodSeconds | default (add (div (int64 $root.Values.config.shutdownTimeoutMs) 1000) 10) -}}
{{- $isApi := eq $component "api" -}}
{{- $apiKeys := include "thumbnail-generator.apiKeys" $root | fromYaml -}}
{{- $mountApiKeys := and $isApi $apiKeys.secret -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}-{{ $component }}
  labels:
    {{- include "thumbnail-generator.labels" $labelCtx | nindent 4 }}
spec:
  {{- if not $c.autoscaling.enabled }}
  replicas: {{ $c.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "thumbnail-generator.selectorLabels" $labelCtx | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        {{- include "thumbnail-generator.labels" $labelCtx | nindent 8 }}
        {{- with $c.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include (print $root.Template.BasePath "/app-configmap.yaml") $root | sha256sum }}
        checksum/external-secret: {{ include (print $root.Template.BasePath "/external-secret.yaml") $root | sha256sum }}
        {{- with $c.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "thumbnail-generator.serviceAccountName" (dict "ctx" $root "component" $component "serviceAccount" $c.serviceAccount) }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ $grace }}
      {{- with include "thumbnail-generator.imagePullSecrets" $root }}{{ . | nindent 6 }}{{ end }}
      {{- with $c.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- toYaml $c.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ $component }}
          image: {{ include "thumbnail-generator.image" (dict "image" $c.image "registry" $root.Values.global.imageRegistry "defaultTag" $tag) | quote }}
          imagePullPolicy: {{ $c.image.pullPolicy | default $root.Values.global.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ $c.containerPort }}
              protocol: TCP
          envFrom:
            - configMapRef:
                name: {{ $fullname }}-app
          env:
            - name: {{ ternary "PORT" "WORKER_PORT" $isApi }}
              value: {{ include "thumbnail-generator.envValue" $c.containerPort | quote }}
            {{- if not $isApi }}
            - name: WORKER_CONCURRENCY
              value: {{ include "thumbnail-generator.envValue" $c.concurrency | quote }}
            {{- end }}
            {{- if and $isApi $c.publicUrl }}
            - name: PUBLIC_URL
              value: {{ $c.publicUrl | quote }}
            {{- end }}
            {{- if $mountApiKeys }}
            - name: API_KEYS_FILE
              value: {{ printf "/etc/thumbnail-generator/api-keys/%s" $apiKeys.entry | quote }}
            {{- end }}
            {{- if $isApi }}
            {{- with toString $c.trustProxy | default (ternary "1" "" $c.ingress.enabled) }}
            # Forwarding headers count only from these proxies (the Ingress controller in front).
            - name: TRUST_PROXY
              value: {{ . | quote }}
            {{- end }}
            {{- end }}
            {{- include "thumbnail-generator.connectionEnv" $root | trim | nindent 12 }}
            {{- range $name, $value := $c.env }}
            - name: {{ $name }}
              value: {{ include "thumbnail-generator.envValue" $value | quote }}
            {{- end }}
            {{- with $c.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          # The apps retry Redis, MongoDB and S3 themselves: they listen at once and report
          # ready (/health/ready) only when every dependency answers.
          startupProbe:
            httpGet:
              path: /health
              port: http
            {{- toYaml $c.startupProbe | nindent 12 }}
          livenessProbe:
            httpGet:
              path: /health
              port: http
            {{- toYaml $c.livenessProbe | nindent 12 }}
          readinessProbe:
            httpGet:
              path: /health/ready
              port: http
            {{- toYaml $c.readinessProbe | nindent 12 }}
          resources:
            {{- toYaml $c.resources | nindent 12 }}
          securityContext:
            {{- toYaml $c.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if eq $root.Values.storage.driver "fs" }}
            - name: files
              mountPath: /data
            {{- end }}
            {{- if $mountApiKeys }}
            - name: api-keys
              mountPath: /etc/thumbnail-generator/api-keys
              readOnly: true
            {{- end }}
            {{- with $c.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $c.tmpSizeLimit }}
        {{- if eq $root.Values.storage.driver "fs" }}
        - name: files
          persistentVolumeClaim:
            claimName: {{ $root.Values.storage.fs.existingClaim }}
        {{- end }}
        {{- if $mountApiKeys }}
        - name: api-keys
          secret:
            secretName: {{ $apiKeys.secret }}
            defaultMode: 0440
            # Only the digests: a generated Secret also holds the key itself, which the API never needs.
            items:
              - key: {{ $apiKeys.entry }}
                path: {{ $apiKeys.entry }}
        {{- end }}
        {{- with $c.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $c.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $c.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- range . }}
        - {{ toYaml (merge (dict) . (dict "labelSelector" (dict "matchLabels" (include "thumbnail-generator.selectorLabels" $labelCtx | fromYaml)))) | nindent 10 | trim }}
        {{- end }}
      {{- end }}
{{- end -}}

{{/*
TCP ports a connection URL points at, as a YAML list: each host's explicit port, else the
default. Handles several hosts (mongodb://a:27017,b:27018/db) and no URL at all (an
existingSecret, whose URL the chart cannot read). Takes (dict "url" "..." "default" 6379).
*/}}
{{- define "thumbnail-generator.urlPorts" -}}
{{- $rest := regexReplaceAll "^[A-Za-z][A-Za-z0-9+.-]*://" (.url | default "") "" -}}
{{- $authority := regexReplaceAll "[/?#].*$" $rest "" -}}
{{- $hosts := regexReplaceAll "^.*@" $authority "" -}}
{{- $ports := list -}}
{{- range splitList "," $hosts -}}
{{- if regexMatch ":[0-9]+$" . -}}
{{- $ports = append $ports (regexFind "[0-9]+$" . | int) -}}
{{- else -}}
{{- $ports = append $ports $.default -}}
{{- end -}}
{{- end -}}
{{- toYaml (uniq $ports) -}}
{{- end -}}
