# syntax=docker/dockerfile:1
# Stratus router image. Build from the repository root:
#   docker build -f deploy/docker/router.Dockerfile -t stratus-router:0.1.0 .
# Configuration is the STRATUS_* environment (README "Configuration"); nothing is baked in.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the prepare script builds, and the sources are not copied yet.
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
ENV NODE_ENV=production \
    STRATUS_HOST=0.0.0.0 \
    STRATUS_GRPC_PORT=50051 \
    STRATUS_HTTP_PORT=8080
WORKDIR /opt/stratus
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The router needs no privileges: the image's unprivileged node user runs it.
USER node
EXPOSE 50051 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.STRATUS_HTTP_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM stops it cleanly (see README "Deploying to several hosts"); give it 60 s (docker stop -t 60).
STOPSIGNAL SIGTERM
CMD ["node", "dist/router/main.js"]
