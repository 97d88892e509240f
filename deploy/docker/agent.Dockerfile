# syntax=docker/dockerfile:1
# Stratus node agent image. Build from the repository root:
#   docker build -f deploy/docker/agent.Dockerfile -t stratus-agent:0.1.0 .
# Run it privileged (docker run --privileged --cgroupns=host, compose "privileged: true", Kubernetes
# securityContext.privileged): bubblewrap needs user and mount namespaces, and the agent creates a
# cgroup per function instance under /sys/fs/cgroup/stratus. STRATUS_SANDBOX=process runs without
# isolation where that cannot be granted (it isolates nothing, and says so at start).

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY proto ./proto
COPY sdk ./sdk
COPY router ./router
COPY node-agent ./node-agent
COPY bench ./bench
COPY deploy/local ./deploy/local
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# bubblewrap: the sandbox; python3: the python runtime.
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap passt python3 \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    STRATUS_GRPC_HOST=0.0.0.0 \
    STRATUS_GRPC_PORT=7000 \
    STRATUS_HTTP_PORT=7080 \
    STRATUS_DATA_DIR=/var/lib/stratus-agent
WORKDIR /opt/stratus
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
VOLUME /var/lib/stratus-agent
EXPOSE 7000 7080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.STRATUS_HTTP_PORT||7080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains: in-flight invocations finish within their timeout (up to 900 s): docker stop -t 930.
STOPSIGNAL SIGTERM
# Root inside the container: see above. Instances run as STRATUS_SANDBOX_UID (nobody) in their sandbox.
CMD ["node", "dist/node-agent/main.js"]
